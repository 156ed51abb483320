-- title: "{{title}}: cohort quarters held"
-- description: The first and last cohort quarter you may see.
-- datasets: [{{ds}}]
-- columns:
--   first_month: {type: date, description: "First cohort quarter held"}
--   last_month: {type: date, description: "Last cohort quarter held"}
SELECT min({{period}}) AS first_month, max({{period}}) AS last_month
FROM {{ds}}
HAVING count(*) > 0
