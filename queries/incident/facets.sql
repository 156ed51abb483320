-- title: "{{title}}: months held{{?cat}} and {{cat_label}}s used{{?cat}}"
-- description: >
--   The first and last month of {{noun}} you may see{{?cat}}, per {{cat_label}} as published{{?cat}}.
-- datasets: [{{ward_cube}}]
-- columns:
--   {{cat}}: {type: dimension, description: "{{cat_label}}"} {{?cat}}
--   first_month: {type: date, description: "First month held"}
--   last_month: {type: date, description: "Last month held"}
SELECT {{cat}}, min({{period}}) AS first_month, max({{period}}) AS last_month {{?cat}}
SELECT min({{period}}) AS first_month, max({{period}}) AS last_month {{!cat}}
FROM {{ward_cube}}
GROUP BY {{cat}} {{?cat}}
HAVING count(*) > 0 {{!cat}}
ORDER BY {{cat}} {{?cat}}
