// What may name a hub repo, a revision and a file in it. All three come from configs or from the hub and are
// joined onto the cache dir, so each is checked before it touches the filesystem: huggingface_hub's
// validate_repo_id for ids, git's ref-name rules (the part that matters for paths) for revisions, and
// `_validate_relative_filename` for repo file paths.

export type RepoType = 'model' | 'dataset';

/** A full commit hash: what snapshots/ folders are named by. */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

// huggingface_hub's REPO_ID_REGEX (re.ASCII, fullmatch): an optional namespace and a name, each 1–96 of
// [A-Za-z0-9_.-], starting and ending with a letter, digit or underscore.
const REPO_ID = /^(?:\b[\w.-]{1,96}\b\/)?\b[\w.-]{1,96}\b$/;

/** Why `id` is not a repo id under huggingface_hub's `validate_repo_id`, or null when it is one. */
export function repoIdProblem(id: string): string | null {
  if (id.split('/').length > 2) return "a repo id is 'name' or 'namespace/name'";
  if (!REPO_ID.test(id)) {
    return "a repo id uses letters, digits, '-', '_' or '.', cannot start or end with '-' or '.', and each part is at most 96 characters";
  }
  if (id.includes('--') || id.includes('..')) return "a repo id cannot contain '--' or '..'";
  if (id.endsWith('.git')) return "a repo id cannot end with '.git'";
  return null;
}

/**
 * Why `revision` cannot name a ref file under refs/ (or a snapshot), or null. A branch or tag may hold `/`
 * (`refs/pr/1` is stored as refs/refs/pr/1, as huggingface_hub does), but no segment may be empty, `.` or `..`,
 * and nothing may anchor the path elsewhere.
 */
export function revisionProblem(revision: string): string | null {
  if (revision === '') return 'a revision cannot be empty';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
  if (/[\\\x00-\x1f\x7f]/.test(revision)) return 'a revision cannot hold a backslash or control characters';
  if (revision.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return "a revision cannot start or end with '/', or hold an empty, '.' or '..' segment";
  }
  if (/^[a-zA-Z]:/.test(revision)) return 'a revision cannot be a drive path';
  return null;
}

/**
 * Why a repo file path (from the hub's tree listing or a caller) could escape the folder it is joined onto, or
 * null: huggingface_hub's `_validate_relative_filename` (no `..` segment; nothing absolute, drive-relative or UNC
 * under POSIX or Windows rules).
 */
export function repoFileProblem(path: string): string | null {
  if (path === '') return 'a file path cannot be empty';
  if (path.replace(/\\/g, '/').split('/').includes('..')) return "a file path cannot hold a '..' segment";
  for (const part of [path, ...path.split('/')]) {
    if (part.startsWith('/') || part.startsWith('\\') || /^[a-zA-Z]:/.test(part)) {
      return 'a file path cannot be absolute, drive-relative or UNC';
    }
  }
  return null;
}

/** huggingface_hub's repo_folder_name: `models--org--name`, `datasets--org--name`. */
export function repoFolderName(id: string, repoType: RepoType): string {
  return [`${repoType}s`, ...id.split('/')].join('--');
}
