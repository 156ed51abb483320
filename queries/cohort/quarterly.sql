-- title: "{{title}} by cohort quarter"
-- description: >
--   For each quarterly cohort: its size, how many had the outcome and (where held) how many
--   events, with the rate as % of the cohort, for the partnership's area (default) or one
--   district; filtered to one value of any category if asked.
-- datasets: [{{ds}}]
-- system: [partnership]
-- parameters:
--   area: {type: area, description: "District code, or all (default: the partnership)"}
--   {{f}}: {type: text, description: "{{f_label}} (default: all)", choices_from: {{ds}}_by_{{f}}.{{f}}} {{*f}}
-- columns:
--   {{period}}: {type: date, description: "First day of the cohort quarter"}
--   {{size}}: {type: count, description: "{{size_label}}"}
--   {{outcome}}: {type: count, description: "{{outcome_label}}"}
--   {{events}}: {type: count, description: "{{events_label}}"} {{?events}}
--   rate_pct: {type: derived, from: [{{size}}, {{outcome}}], expr: "round(100.0 * {{outcome}} / nullif({{size}}, 0), 1)", description: "{{rate_label}}, %"}
--   per_member: {type: derived, from: [{{size}}, {{events}}], expr: "round(1.0 * {{events}} / nullif({{size}}, 0), 2)", description: "{{events_label}} per member of the cohort"} {{?events}}
SELECT {{period}},
       total({{size}}) AS {{size}}, total({{outcome}}) AS {{outcome}}
       , total({{events}}) AS {{events}} {{?events}}
FROM {{ds}}
WHERE in_area({{ward}}, {{district}}, $area, $partnership)
  AND (${{f}} IS NULL OR {{f}} = ${{f}}) {{*f}}
GROUP BY {{period}}
ORDER BY {{period}}
