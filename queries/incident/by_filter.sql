-- title: "{{title}} by {{filter_label}}"
-- description: >
--   {{label}} per {{filter_label}} over the chosen period, for the partnership's area (default),
--   one ward or district, or all data held. Records with no {{filter_label}} (e.g. an extract that
--   does not carry it) are left out.
-- per: filter
-- name: "{{ds}}_by_{{filter}}"
-- datasets: [{{ward_cube}}]
-- system: [partnership]
-- parameters:
--   from: {type: month, period: start, description: "First month, YYYY-MM"}
--   to: {type: month, period: end, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- order: [-{{count}}, {{filter}}]
-- columns:
--   {{filter}}: {type: dimension, description: "{{filter_label}}"}
--   {{count}}: {type: count, description: "{{label}} in the period"}
SELECT {{filter}}, total({{measure}}) AS {{count}}
FROM {{ward_cube}}
WHERE {{filter}} IS NOT NULL AND {{filter}} <> ''
  AND ($from IS NULL OR {{period}} >= $from)
  AND ($to IS NULL OR {{period}} <= $to)
  AND in_area({{ward}}, {{district}}, $area, $partnership)
  AND (${{cat}} IS NULL OR list_contains(${{cat}}, {{cat}}))
  AND (${{f}} IS NULL OR list_contains(${{f}}, {{f}})) {{*f}}
GROUP BY {{filter}}
ORDER BY {{filter}}
