-- title: Drug and alcohol treatment by quarter and substance group
-- description: >
--   Adults in structured treatment in the 12 months to each quarter end, successful completions
--   in those 12 months, and completions not followed by a re-presentation within 6 months, by
--   substance group (substance_group 'all' is the total of the four groups).
-- datasets: [substance_misuse]
-- parameters:
--   substance_group: {type: text, description: "One substance group (default: every group and the total)"}
-- columns:
--   quarter: {type: date, description: "First day of the quarter (12 months to its end)"}
--   substance_group: {type: dimension, description: "opiate, non-opiate, alcohol, alcohol and non-opiate, or all"}
--   in_treatment: {type: count, description: "Adults in treatment in the 12 months"}
--   successful_completions: {type: count, description: "Successful completions in the 12 months"}
--   representations: {type: count, description: "Of those, re-presented within 6 months"}
--   non_representations: {type: derived, from: [successful_completions, representations], expr: "greatest(successful_completions - representations, 0)", description: "Completions not re-presenting within 6 months"}
--   completion_pct: {type: derived, from: [in_treatment, successful_completions], expr: "round(100.0 * successful_completions / nullif(in_treatment, 0), 1)", description: "Successful completions, % of those in treatment"}
--   non_rep_pct: {type: derived, from: [in_treatment, successful_completions, representations], expr: "round(100.0 * greatest(successful_completions - representations, 0) / nullif(in_treatment, 0), 1)", description: "Successful completions not re-presenting within 6 months, % of those in treatment"}
WITH grouped AS (
    SELECT quarter, coalesce(substance_group, 'all') AS substance_group,
           total(in_treatment) AS in_treatment,
           total(successful_completions) AS successful_completions,
           total(representations) AS representations
    FROM substance_misuse
    WHERE $substance_group IS NULL OR substance_group = $substance_group
    GROUP BY GROUPING SETS ((quarter), (quarter, substance_group))
)
SELECT quarter, substance_group, in_treatment, successful_completions, representations
FROM grouped
ORDER BY quarter, substance_group
