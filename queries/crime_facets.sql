-- title: Crime types and months held
-- description: Every crime type and month in the crime data you may see (for filter choices).
-- datasets: [crime_ward_cube]
-- columns:
--   crime_type: {type: dimension, description: "police.uk crime type"}
--   first_month: {type: date, description: "First month the type appears"}
--   last_month: {type: date, description: "Last month the type appears"}
SELECT crime_type, min(month) AS first_month, max(month) AS last_month
FROM crime_ward_cube
GROUP BY crime_type
ORDER BY crime_type
