-- title: Monthly anti-social behaviour incidents
-- description: ASB incidents per month for the whole partnership area or one ward or district.
-- datasets: [asb_ward_cube]
-- parameters:
--   from: {type: month, description: "First month, YYYY-MM"}
--   to: {type: month, description: "Last month, YYYY-MM"}
--   area: {type: area, description: "Ward or district code"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   incidents: {type: count, description: "ASB incidents"}
SELECT month, total(n) AS incidents
FROM asb_ward_cube
WHERE ($from IS NULL OR month >= $from)
  AND ($to IS NULL OR month <= $to)
  AND ($area IS NULL OR ward_code = $area OR district_code = $area)
GROUP BY month
ORDER BY month
