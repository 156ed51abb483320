-- title: "Monthly {{noun}}, total"
-- description: >
--   {{label}} per month{{?cat}}, all {{cat_label}}s or those chosen{{?cat}}, for the partnership's area
--   (default), one ward or district, or all data held (area = all).
-- datasets: [{{ward_cube}}]
-- system: [partnership]
-- parameters:
--   from: {type: month, description: "First month, YYYY-MM (default: the first month held)"}
--   to: {type: month, description: "Last month, YYYY-MM (default: the latest month held)"}
--   area: {type: area, description: "Ward or district code, or all (default: the partnership)"}
--   {{cat}}: {type: text_list, description: "{{cat_label}}s to include (default: all)"} {{?cat}}
--   {{f}}: {type: text_list, description: "{{f_label}} to include (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   {{count}}: {type: count, description: "{{label}}"}
SELECT {{period}} AS month, total({{measure}}) AS {{count}}
FROM {{ward_cube}}
WHERE ($from IS NULL OR {{period}} >= $from)
  AND ($to IS NULL OR {{period}} <= $to)
  AND in_area({{ward}}, {{district}}, $area, $partnership)
  AND (${{cat}} IS NULL OR list_contains(${{cat}}, {{cat}})) {{?cat}}
  AND (${{f}} IS NULL OR list_contains(${{f}}, {{f}})) {{*f}}
GROUP BY {{period}}
ORDER BY {{period}}
