-- title: "{{title}} by ward"
-- description: >
--   {{label}} per ward over the chosen period, with the ward's population and the rate per 1,000
--   residents a year. With no area chosen: the partnership's wards, then the {{noun}} in districts
--   outside the partnership together, then those with no location; with area = all, every ward held.
-- requires: [ward]
-- datasets: [{{ward_cube}}, areas]
-- grain: ward
-- system: [partnership, held]
-- held_of: {{ds}}
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [row_order, -rate_per_1000, ward_name]
-- columns:
--   ward_code: {type: dimension, description: "Ward code (blank for the rows outside the partnership and with no location)"}
--   ward_name: {type: dimension, description: "Ward (name told apart where it repeats), or what the row counts"}
--   district_name: {type: dimension, description: "District"}
--   row_kind: {type: dimension, description: "ward, outside (districts outside the partnership) or no location"}
--   row_order: {type: number, description: "0 wards, 1 outside the partnership, 2 no location (for ordering)"}
--   {{count}}: {type: count, description: "{{label}} in the period"}
--   population: {type: number, description: "Resident population"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   months: {type: number, description: "Months in the period"}
--   rate_per_1000: {type: derived, from: [{{count}}], expr: "round(1000.0 * {{count}} / nullif(population, 0) * 12.0 / months, 2)", description: "{{label}} per 1,000 residents a year"}
WITH bounds AS (
    SELECT coalesce($from, CAST($held_first AS DATE)) AS first_month, coalesce($to, CAST($held_last AS DATE)) AS last_month
), cells AS (
    SELECT CASE WHEN c.{{ward}} IS NULL THEN '~none'
                WHEN $area IS NULL AND $partnership IS NOT NULL
                     AND NOT list_contains($partnership, c.{{district}}) THEN '~outside'
                ELSE c.{{ward}} END AS place, c.{{measure}} AS n
    FROM {{ward_cube}} c, bounds b
    WHERE c.{{period}} BETWEEN b.first_month AND b.last_month
      AND ($area IS NULL OR in_area(c.{{ward}}, c.{{district}}, $area, $partnership))
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
), counts AS (
    -- Counted per place first, then named: naming every cube row costs far more.
    SELECT place, total(n) AS {{count}} FROM cells GROUP BY place
)
SELECT CASE WHEN k.place LIKE '~%' THEN NULL ELSE k.place END AS ward_code,
       CASE k.place WHEN '~none' THEN 'No location given'
                    WHEN '~outside' THEN 'Outside the partnership'
                    ELSE coalesce(a.area_label, k.place) END AS ward_name,
       a.district_name,
       CASE k.place WHEN '~none' THEN 'no location' WHEN '~outside' THEN 'outside' ELSE 'ward' END AS row_kind,
       CASE k.place WHEN '~none' THEN 2 WHEN '~outside' THEN 1 ELSE 0 END AS row_order,
       k.{{count}}, a.population, a.population_year,
       (SELECT {{months_between}} FROM bounds) AS months
FROM counts k
LEFT JOIN areas a ON a.area_level = 'ward' AND a.area_code = k.place
ORDER BY k.place
