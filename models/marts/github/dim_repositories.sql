-- The benchmarked projects that go on: one row each, the top N by stars.
select
    repo_name, github_repo, stars, default_branch, asv_config_path, benchmark_dir, clone_url, stars_rank,
    license_spdx
from {{ ref('int_github__repo_verdicts') }}
where reason is null
