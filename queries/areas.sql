-- title: Areas you may choose
-- description: >
--   The districts and wards of the partnership (all held when no partnership area is set), or,
--   for a user limited to some wards, those wards: with a label that tells repeated names apart
--   ("Abbey (Lincoln)") and the population rates divide by. Whether wards may be chosen at all
--   depends on the data being viewed (csp.areas).
-- datasets: [areas]
-- system: [partnership, scope]
-- columns:
--   area_code: {type: dimension, description: "Ward or district code"}
--   area_level: {type: dimension, description: "ward or district"}
--   label: {type: dimension, description: "Name, told apart where it repeats"}
--   ward_code: {type: dimension, description: "Ward code (wards only)"}
--   ward_name: {type: dimension, description: "Ward label (wards only)"}
--   district_code: {type: dimension, description: "District code"}
--   district_name: {type: dimension, description: "District name"}
--   population: {type: number, description: "Resident population"}
--   population_year: {type: number, description: "Mid-year estimate year"}
SELECT area_code, area_level, area_label AS label,
       CASE WHEN area_level = 'ward' THEN area_code END AS ward_code,
       CASE WHEN area_level = 'ward' THEN area_label END AS ward_name,
       district_code, district_name, population, population_year
FROM areas
WHERE area_level IN ('ward', 'district')
  AND ($partnership IS NULL OR list_contains($partnership, district_code))
  AND ($scope_wards IS NULL OR (area_level = 'ward' AND list_contains($scope_wards, area_code)))
ORDER BY area_level = 'ward', district_name, area_label
