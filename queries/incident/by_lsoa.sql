-- title: "{{title}} by LSOA"
-- description: >
--   {{label}} per current LSOA (history published under older LSOA codes counted in the LSOA they
--   best fit) over the chosen period, with its population and the rate per 1,000 residents a year.
--   Every LSOA of the area you may see is listed, those with none too.
-- requires: [lsoa]
-- datasets: [{{cube}}, geography, areas]
-- grain: lsoa
-- system: [partnership, held, scope]
-- held_of: {{ds}}
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [-rate_per_1000, lsoa_name]
-- columns:
--   lsoa_code: {type: dimension, description: "Current LSOA code"}
--   lsoa_name: {type: dimension, description: "LSOA name"}
--   ward_name: {type: dimension, description: "Ward the LSOA lies in"}
--   {{count}}: {type: count, description: "{{label}} in the period"}
--   population: {type: number, description: "Resident population"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   months: {type: number, description: "Months in the period"}
--   rate_per_1000: {type: derived, from: [{{count}}], expr: "round(1000.0 * {{count}} / nullif(population, 0) * 12.0 / months, 2)", description: "{{label}} per 1,000 residents a year"}
WITH bounds AS (
    SELECT coalesce($from, CAST($held_first AS DATE)) AS first_month, coalesce($to, CAST($held_last AS DATE)) AS last_month
), counts AS (
    SELECT coalesce(g.current_lsoa_code, c.{{lsoa}}) AS lsoa_code, total(c.{{measure}}) AS {{count}}
    FROM {{cube}} c
    LEFT JOIN geography g ON g.lsoa_code = c.{{lsoa}}, bounds b
    WHERE c.{{lsoa}} IS NOT NULL
      AND c.{{period}} BETWEEN b.first_month AND b.last_month
      AND in_area(c.{{ward}}, c.{{district}}, $area, $partnership)
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
    GROUP BY 1
), places AS (
    SELECT a.area_code AS lsoa_code, a.area_label AS lsoa_name, w.area_label AS ward_name,
           a.population, a.population_year
    FROM areas a LEFT JOIN areas w ON w.area_level = 'ward' AND w.area_code = a.ward_code
    WHERE a.area_level = 'lsoa'
      AND in_area(a.ward_code, a.district_code, $area, $partnership)
      AND ($scope_wards IS NULL OR list_contains($scope_wards, a.ward_code))
)
SELECT p.lsoa_code, p.lsoa_name, p.ward_name, or_none(c.{{count}}) AS {{count}}, p.population,
       p.population_year, (SELECT {{months_between}} FROM bounds) AS months
FROM places p LEFT JOIN counts c USING (lsoa_code)
ORDER BY p.lsoa_code
