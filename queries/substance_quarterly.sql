-- title: Drug and alcohol treatment by quarter and substance group
-- description: >
--   Adults in structured treatment in the 12 months to each quarter end, successful completions
--   in those 12 months, and completions not followed by a re-presentation within 6 months, by
--   substance group (substance_group 'all' is the total of the four groups).
-- datasets: [substance_misuse]
-- parameters:
--   substance_group: {type: text, description: "One substance group (default: every group and the total)"}
-- totals: [[quarter]]  # rows that add up to a total shown elsewhere: secondary suppression
-- columns:
--   quarter: {type: date, description: "First day of the quarter (12 months to its end)"}
--   substance_group: {type: dimension, description: "opiate, non-opiate, alcohol, alcohol and non-opiate, or all"}
--   in_treatment: {type: count, description: "Adults in treatment in the 12 months"}
--   successful_completions: {type: count, description: "Successful completions in the 12 months"}
--   representations: {type: count, description: "Of those, re-presented within 6 months"}
--   non_representations: {type: derived, from: [successful_completions, representations], description: "Completions not re-presenting within 6 months"}
--   completion_pct: {type: derived, from: [in_treatment, successful_completions], description: "Successful completions, % of those in treatment"}
--   non_rep_pct: {type: derived, from: [in_treatment, successful_completions, representations], description: "Successful completions not re-presenting within 6 months, % of those in treatment"}
WITH grouped AS (
    SELECT quarter, coalesce(substance_group, 'all') AS substance_group,
           CAST(sum(in_treatment) AS BIGINT) AS in_treatment,
           CAST(sum(successful_completions) AS BIGINT) AS successful_completions,
           CAST(sum(representations) AS BIGINT) AS representations
    FROM substance_misuse
    WHERE $substance_group IS NULL OR substance_group = $substance_group
    GROUP BY GROUPING SETS ((quarter), (quarter, substance_group))
)
SELECT quarter, substance_group, in_treatment, successful_completions, representations,
       successful_completions - representations AS non_representations,
       round(100.0 * successful_completions / nullif(in_treatment, 0), 1) AS completion_pct,
       round(100.0 * (successful_completions - representations) / nullif(in_treatment, 0), 1) AS non_rep_pct
FROM grouped
ORDER BY quarter, substance_group
