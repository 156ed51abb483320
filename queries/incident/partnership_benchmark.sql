-- title: "{{title}}: the partnership, as the comparator for some wards"
-- description: >
--   {{label}} over the chosen period in the partnership's whole area, with its population and the
--   rate per 1,000 residents a year: the comparator for a user limited to some wards, who would
--   otherwise compare a ward with itself. Declared `scope: partnership`: read beyond the user's
--   wards only where the sharing policy sets `partnership_comparator` for {{ds}}; it takes no area
--   and has no area in its rows, so it is exactly the partnership row of `{{ds}}_benchmark` as the
--   partner's unscoped users read it.
-- requires: [ward]
-- datasets: [{{ward_cube}}, areas]
-- system: [partnership, held]
-- held_of: {{ds}}
-- scope: partnership
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   comparator: {type: dimension, description: "partnership"}
--   label: {type: dimension, description: "What the comparator is, in words"}
--   districts: {type: number, description: "Districts in it"}
--   wards: {type: number, description: "Wards in it"}
--   {{count}}: {type: count, description: "{{label}} in the period, located in the partnership's area"}
--   population: {type: number, description: "Resident population (blank when any district has none held)"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   months: {type: number, description: "Months in the period"}
--   rate_per_1000: {type: derived, from: [{{count}}], expr: "round(1000.0 * {{count}} / nullif(population, 0) * 12.0 / months, 2)", description: "{{label}} per 1,000 residents a year"}
WITH bounds AS (
    SELECT coalesce($from, CAST($held_first AS DATE)) AS first_month, coalesce($to, CAST($held_last AS DATE)) AS last_month
), cells AS (
    SELECT c.{{district}} AS district, c.{{measure}} AS n
    FROM {{ward_cube}} c, bounds b
    WHERE c.{{period}} BETWEEN b.first_month AND b.last_month AND c.{{district}} IS NOT NULL
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
), area AS (
    -- The same districts as the benchmark's partnership row: the partnership, or all held.
    SELECT coalesce($partnership, (SELECT list(DISTINCT district) FROM cells)) AS districts
), counted AS (
    SELECT a.districts, total(c.n) AS {{count}}
    FROM area a LEFT JOIN cells c ON list_contains(a.districts, c.district)
    GROUP BY a.districts
)
SELECT 'partnership' AS comparator, 'the partnership' AS label, len(k.districts) AS districts,
       (SELECT count(*) FROM areas WHERE area_level = 'ward' AND list_contains(k.districts, district_code)) AS wards,
       k.{{count}},
       (SELECT CASE WHEN count(*) = len(k.districts) AND count(*) = count(population) THEN sum(population) END
        FROM areas WHERE area_level = 'district' AND list_contains(k.districts, area_code)) AS population,
       (SELECT max(population_year) FROM areas WHERE area_level = 'district' AND list_contains(k.districts, area_code)) AS population_year,
       (SELECT {{months_between}} FROM bounds) AS months
FROM counted k
