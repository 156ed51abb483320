-- title: Recorded crime per month (all types)
-- description: >
--   Recorded crimes per month, all crime types together, for everywhere you may see or one ward
--   or district. Used for the overview tile and the neighbourhood view.
-- datasets: [crime_ward_cube]
-- parameters:
--   area: {type: area, description: "Ward or district code (default: everywhere you may see)"}
--   crime_type: {type: text_list, description: "Crime types to include (default: all)"}
-- columns:
--   month: {type: date, description: "Month (first day)"}
--   crimes: {type: count, description: "Recorded crimes"}
SELECT month, total(n) AS crimes
FROM crime_ward_cube
WHERE ($area IS NULL OR ward_code = $area OR district_code = $area)
  AND ($crime_type IS NULL OR list_contains($crime_type, crime_type))
GROUP BY month
ORDER BY month
