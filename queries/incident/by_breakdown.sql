-- title: "{{title}} by {{breakdown_label}}"
-- description: >
--   {{label}} per {{breakdown}} over the chosen period, for the partnership's area (default), one
--   ward or district, or all data held. Blank {{breakdown}}s are left out.
-- per: breakdown
-- name: "{{ds}}_by_{{breakdown}}"
-- datasets: [{{breakdown_cube}}]
-- system: [partnership]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [-{{count}}, {{breakdown}}]
-- columns:
--   {{breakdown}}: {type: dimension, description: "{{breakdown_label}}"}
--   {{count}}: {type: count, description: "{{label}} in the period"}
SELECT {{breakdown}}, total({{measure}}) AS {{count}}
FROM {{breakdown_cube}}
WHERE {{breakdown}} IS NOT NULL AND {{breakdown}} <> ''
  AND ($from IS NULL OR {{period}} >= $from)
  AND ($to IS NULL OR {{period}} <= $to)
  AND in_area({{ward}}, {{district}}, $area, $partnership)
  AND (${{cat}} IS NULL OR list_contains(${{cat}}, {{cat}})) {{?cat}}
  AND (${{f}} IS NULL OR list_contains(${{f}}, {{f}})) {{*f}}
GROUP BY {{breakdown}}
ORDER BY {{breakdown}}
