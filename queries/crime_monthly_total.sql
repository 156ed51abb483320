-- title: Monthly recorded crime, total
-- description: >
--   Recorded crimes per month (all chosen crime types together), for the whole area you may see
--   or one ward or district. The series behind the control chart and the rolling 12-month line.
-- datasets: [crime_ward_cube]
-- parameters:
--   from: {type: month, description: "First month, YYYY-MM (default: the first month held)"}
--   to: {type: month, description: "Last month, YYYY-MM (default: the latest month held)"}
--   area: {type: area, description: "Ward or district code (default: everywhere you may see)"}
--   crime_type: {type: text_list, description: "Crime types to include, comma-separated (default: all)"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   crimes: {type: count, description: "Recorded crimes"}
SELECT month, total(n) AS crimes
FROM crime_ward_cube
WHERE ($from IS NULL OR month >= $from)
  AND ($to IS NULL OR month <= $to)
  AND ($area IS NULL OR ward_code = $area OR district_code = $area)
  AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
GROUP BY month
ORDER BY month
