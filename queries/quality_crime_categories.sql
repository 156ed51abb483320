-- title: "Data quality: crime types by month"
-- description: Records per month and crime type as published, to show categories appearing, disappearing or renamed.
-- datasets: [crime]
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   crime_type: {type: dimension, description: "Crime type as published that month"}
--   records: {type: count, description: "Records"}
SELECT month, crime_type, total(n) AS records
FROM crime
GROUP BY month, crime_type
ORDER BY month, crime_type
