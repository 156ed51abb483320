-- title: "Data quality: {{noun}} by {{cat_label}} and month"
-- description: Records per month and {{cat_label}} as published, to show categories appearing, disappearing or renamed.
-- requires: [cat]
-- name: "quality_{{ds}}_categories"
-- datasets: [{{ward_cube}}]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   {{cat}}: {type: dimension, description: "{{cat_label}} as published that month"}
--   records: {type: count, description: "Records"}
SELECT {{period}} AS month, {{cat}}, total({{measure}}) AS records
FROM {{ward_cube}}
GROUP BY {{period}}, {{cat}}
ORDER BY {{period}}, {{cat}}
