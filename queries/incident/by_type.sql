-- title: "{{title}} by {{cat_label}}"
-- description: >
--   {{label}} per {{cat_label}} (as published) over the chosen period, for the partnership's area
--   (default), one ward or district, or all data held.
-- requires: [cat]
-- datasets: [{{ward_cube}}]
-- system: [partnership]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [-{{count}}, {{cat}}]
-- columns:
--   {{cat}}: {type: dimension, description: "{{cat_label}}"}
--   {{count}}: {type: count, description: "{{label}} in the period"}
SELECT {{cat}}, total({{measure}}) AS {{count}}
FROM {{ward_cube}}
WHERE ($from IS NULL OR {{period}} >= $from)
  AND ($to IS NULL OR {{period}} <= $to)
  AND in_area({{ward}}, {{district}}, $area, $partnership)
  AND (${{cat}} IS NULL OR list_contains(${{cat}}, {{cat}}))
  AND (${{f}} IS NULL OR list_contains(${{f}}, {{f}})) {{*f}}
GROUP BY {{cat}}
ORDER BY {{cat}}
