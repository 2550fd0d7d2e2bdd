-- The commit reports (built in Python by the commit_reports asset, which writes
-- dataset.commit_reports as detection writes its breakpoints), one row per task, with the
-- pull-request fields and the final task id. Exposed here so SQL, dbt docs and the export read them.
select
    reports.task_id,
    reports.commit_task_id,
    reports.repo,
    reports.commit_hash,
    reports.commit_subject,
    reports.commit_message,
    reports.commit_author,
    reports.committed_at,
    reports.pr_number,
    reports.pr_title,
    reports.pr_body,
    reports.pr_labels,
    reports.pr_author,
    reports.pr_merged_by,
    reports.pr_merged_at,
    reports.pr_merge_commit_sha,
    reports.pr_base_sha,
    reports.pr_url,
    reports.n_comments,
    reports.n_reviews,
    reports.changed_files,
    reports.coverage_commit,
    reports.patch,
    reports.has_clone,
    reports.report_markdown,
    reports.report_path,
    reports.plot_path,
    reports.built_at
from {{ ref('stg_dataset__commit_reports') }} as reports
inner join {{ ref('fct_tasks') }} as tasks
    on tasks.commit_task_id = reports.commit_task_id
