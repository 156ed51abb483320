-- title: Areas you may see
-- description: Wards (with their district) in the geography lookup that are within your area scope.
-- datasets: [geography]
-- columns:
--   ward_code: {type: dimension, description: "Ward code"}
--   ward_name: {type: dimension, description: "Ward name"}
--   district_code: {type: dimension, description: "District code"}
--   district_name: {type: dimension, description: "District name"}
--   population: {type: number, description: "Resident population"}
SELECT ward_code, any_value(ward_name) AS ward_name, any_value(district_code) AS district_code,
       any_value(district_name) AS district_name, sum(population) AS population
FROM geography
WHERE ward_code IS NOT NULL
GROUP BY ward_code
ORDER BY district_name, ward_name
