-- title: The partnership's crime and ASB, as a comparator for one ward
-- description: >
--   Recorded crimes (all and by police.uk type) and ASB incidents in the latest 12 months held,
--   in the partnership's whole area, with its resident population: the Neighbourhood page's
--   comparator. Declared `scope: partnership`: a user limited to some wards reads it beyond their
--   wards where the sharing policy sets `partnership_comparator` for crime and ASB. It takes no
--   area and has no area in its rows, so it says nothing about any one ward.
-- datasets: [crime_ward_cube, asb_ward_cube, areas]
-- system: [partnership, held]
-- held_of: crime
-- scope: partnership
-- columns:
--   category: {type: dimension, description: "All crime, a crime type, or Anti-social behaviour"}
--   comparator_current: {type: count, description: "In the partnership's area, latest 12 months"}
--   comparator_population: {type: number, description: "The partnership's resident population (blank when any district has none held)"}
--   population_year: {type: number, description: "Mid-year estimate year of the population"}
--   comparator_wards: {type: number, description: "Wards in the partnership's area"}
WITH bounds AS (
    SELECT CAST($held_last AS DATE) AS last_month,
           CAST(CAST($held_last AS DATE) - INTERVAL 12 MONTH AS DATE) AS cut12
), events AS (
    SELECT 'All crime' AS category, month, district_code, n FROM crime_ward_cube
    UNION ALL SELECT crime_type, month, district_code, n FROM crime_ward_cube
    UNION ALL SELECT 'Anti-social behaviour', month, district_code, n FROM asb_ward_cube
), tallied AS (
    SELECT e.category, total(e.n) AS comparator_current
    FROM events e, bounds b
    WHERE e.month > b.cut12 AND e.month <= b.last_month AND e.district_code IS NOT NULL
      AND ($partnership IS NULL OR list_contains($partnership, e.district_code))
    GROUP BY e.category
), comp AS (
    SELECT CASE WHEN count(*) > 0 AND count(*) = count(population) THEN sum(population) END AS comparator_population,
           max(population_year) AS population_year,
           (SELECT count(*) FROM areas w WHERE w.area_level = 'ward'
                AND ($partnership IS NULL OR list_contains($partnership, w.district_code))) AS comparator_wards
    FROM areas
    WHERE area_level = 'district' AND ($partnership IS NULL OR list_contains($partnership, area_code))
)
SELECT t.category, t.comparator_current, CAST(c.comparator_population AS BIGINT) AS comparator_population,
       c.population_year, c.comparator_wards
FROM tallied t, comp c
ORDER BY t.category
