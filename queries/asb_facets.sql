-- title: ASB months held
-- description: The first and last month of the anti-social behaviour data you may see (for filter choices).
-- datasets: [asb_ward_cube]
-- columns:
--   first_month: {type: date, description: "First month held"}
--   last_month: {type: date, description: "Last month held"}
SELECT min(month) AS first_month, max(month) AS last_month
FROM asb_ward_cube
HAVING count(*) > 0
