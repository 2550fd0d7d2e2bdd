-- Every repository discovery looked at and did not keep, with the reason.
select github_repo, repo_name, stars, asv_config_path, found_by, reason, license_spdx
from {{ ref('int_github__repo_verdicts') }}
where reason is not null
