-- title: Every district held
-- description: >
--   Every district in the published geography with its population: what an administrator chooses
--   the partnership's area and the comparator area from.
-- datasets: [areas]
-- columns:
--   district_code: {type: dimension, description: "District code"}
--   district_name: {type: dimension, description: "District name"}
--   wards: {type: number, description: "Wards in the district"}
--   population: {type: number, description: "Resident population"}
--   population_year: {type: number, description: "Mid-year estimate year"}
SELECT d.area_code AS district_code, d.area_name AS district_name,
       (SELECT count(*) FROM areas w WHERE w.area_level = 'ward' AND w.district_code = d.area_code) AS wards,
       d.population, d.population_year
FROM areas d
WHERE d.area_level = 'district'
ORDER BY d.area_name
