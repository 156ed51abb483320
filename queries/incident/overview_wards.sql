-- title: "{{title}} by ward, the latest 12 months against the 12 before"
-- description: >
--   {{label}} per ward of the partnership in the 12 months to the latest month held and in the 12
--   months before: the wards that changed most.
-- name: "overview_{{ds}}_wards"
-- requires: [ward]
-- datasets: [{{ward_cube}}, areas]
-- grain: ward
-- system: [partnership, held]
-- held_of: {{ds}}
-- parameters:
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   ward_code: {type: dimension, description: "Ward code"}
--   ward_name: {type: dimension, description: "Ward (name told apart where it repeats)"}
--   current: {type: count, description: "{{label}}, latest 12 months"}
--   previous: {type: count, description: "{{label}}, the 12 months before"}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_month, CAST(CAST($held_last AS DATE) - INTERVAL 12 MONTH AS DATE) AS cut12,
           CAST(CAST($held_last AS DATE) - INTERVAL 24 MONTH AS DATE) AS cut24
), counts AS (
    SELECT c.{{ward}} AS ward_code,
           total_if(c.{{measure}}, c.{{period}} > b.cut12) AS current,
           total_if(c.{{measure}}, c.{{period}} <= b.cut12) AS previous
    FROM {{ward_cube}} c, bounds b
    WHERE c.{{ward}} IS NOT NULL AND c.{{period}} > b.cut24 AND c.{{period}} <= b.last_month
      AND in_area(c.{{ward}}, c.{{district}}, NULL, $partnership)
      AND (${{cat}} IS NULL OR list_contains(${{cat}}, c.{{cat}})) {{?cat}}
      AND (${{f}} IS NULL OR list_contains(${{f}}, c.{{f}})) {{*f}}
    GROUP BY c.{{ward}}
)
SELECT k.ward_code, coalesce(a.area_label, k.ward_code) AS ward_name, k.current, k.previous
FROM counts k LEFT JOIN areas a ON a.area_level = 'ward' AND a.area_code = k.ward_code
ORDER BY k.ward_code
