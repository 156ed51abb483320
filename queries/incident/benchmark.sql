-- title: "{{title}}: comparators"
-- description: >
--   {{label}} over the chosen period with the population and the rate per 1,000 residents a year
--   for each comparator: the partnership's area (for a user limited to some wards: those wards),
--   each of its districts when it has more than one, and the comparator area an administrator set
--   (e.g. the force or the county). Rates are for the districts' residents, so the counts are the
--   rows located in those districts.
-- requires: [ward]
-- datasets: [{{ward_cube}}, areas]
-- system: [partnership, held, scope, comparator]
-- held_of: {{ds}}
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [sort, label]
-- columns:
--   comparator: {type: dimension, description: "partnership, your wards, a district code, or comparator"}
--   label: {type: dimension, description: "What the comparator is, in words"}
--   sort: {type: number, description: "Order of the comparators"}
--   districts: {type: number, description: "Districts in it"}
--   wards: {type: number, description: "Wards in it"}
--   {{count}}: {type: count, description: "{{label}} in the period, located in it"}
--   population: {type: number, description: "Resident population (blank when any part has none held)"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   months: {type: number, description: "Months in the period"}
--   rate_per_1000: {type: derived, from: [{{count}}], expr: "round(1000.0 * {{count}} / nullif(population, 0) * 12.0 / months, 2)", description: "{{label}} per 1,000 residents a year"}
WITH bounds AS (
    SELECT coalesce($from, CAST($held_first AS DATE)) AS first_month, coalesce($to, CAST($held_last AS DATE)) AS last_month
), cells AS (
    SELECT c.{{ward}} AS ward, c.{{district}} AS district, c.{{measure}} AS n
    FROM {{ward_cube}} c, bounds b
    WHERE c.{{period}} BETWEEN b.first_month AND b.last_month
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
), held AS (
    SELECT list(DISTINCT district) AS districts FROM cells WHERE district IS NOT NULL
), groups AS (
    SELECT 'partnership' AS comparator, 0 AS sort, coalesce($partnership, h.districts) AS districts
    FROM held h WHERE $scope_wards IS NULL
    UNION ALL
    SELECT unnest($partnership), 1, [unnest($partnership)]
    WHERE $scope_wards IS NULL AND len($partnership) > 1
    UNION ALL
    SELECT 'comparator', 2, $comparator WHERE $scope_wards IS NULL AND $comparator IS NOT NULL
), counted AS (
    SELECT g.comparator, any_value(g.sort) AS sort, any_value(g.districts) AS districts, total(c.n) AS {{count}}
    FROM groups g LEFT JOIN cells c ON list_contains(g.districts, c.district)
    GROUP BY g.comparator
    UNION ALL
    SELECT 'your wards', 0, NULL, total(c.n) FROM cells c WHERE c.ward IS NOT NULL
    HAVING $scope_wards IS NOT NULL
), people AS (
    SELECT k.comparator,
           CASE WHEN k.comparator = 'your wards'
                THEN (SELECT CASE WHEN count(*) = count(population) THEN sum(population) END FROM areas
                      WHERE area_level = 'ward' AND list_contains($scope_wards, area_code))
                ELSE (SELECT CASE WHEN count(*) = len(k.districts) AND count(*) = count(population) THEN sum(population) END
                      FROM areas WHERE area_level = 'district' AND list_contains(k.districts, area_code)) END AS population,
           CASE WHEN k.comparator = 'your wards'
                THEN (SELECT max(population_year) FROM areas WHERE area_level = 'ward' AND list_contains($scope_wards, area_code))
                ELSE (SELECT max(population_year) FROM areas WHERE area_level = 'district' AND list_contains(k.districts, area_code)) END AS population_year,
           CASE WHEN k.comparator = 'your wards' THEN len($scope_wards)
                ELSE (SELECT count(*) FROM areas WHERE area_level = 'ward' AND list_contains(k.districts, district_code)) END AS wards
    FROM counted k
)
SELECT k.comparator,
       CASE k.comparator WHEN 'partnership' THEN 'the partnership'
                         WHEN 'your wards' THEN 'your wards'
                         WHEN 'comparator' THEN 'the comparator area'
                         ELSE coalesce((SELECT any_value(area_name) FROM areas WHERE area_level = 'district' AND area_code = k.comparator), k.comparator) END AS label,
       k.sort, CASE WHEN k.districts IS NULL THEN NULL ELSE len(k.districts) END AS districts, p.wards,
       k.{{count}}, p.population, p.population_year,
       (SELECT {{months_between}} FROM bounds) AS months
FROM counted k JOIN people p USING (comparator)
ORDER BY k.sort, k.comparator
