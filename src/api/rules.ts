// Patterns the API's schemas use, each with the sentence that tells a user what it allows: a
// pattern error names the rule, never the regular expression (the daemon maps it, the CLI reuses it).

export const NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$';
export const NAME_RULE = "a name may contain only letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128 characters)";

export const VOLUME_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]+$';
export const VOLUME_NAME_RULE = "a volume name has at least two characters, only letters, digits, '_', '.' and '-', starting with a letter or digit";

/** RFC 1123 host names: dot-separated labels of letters, digits and inner '-' (with maxLength 64, Linux's HOST_NAME_MAX). */
export const HOSTNAME_PATTERN = '^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$';
export const HOSTNAME_RULE = "a host name is labels of letters, digits and '-' (not at a label's start or end) separated by '.', at most 64 characters";

/** run --user: USER[:GROUP], each a name or a number (resolved in the guest against its /etc/passwd and /etc/group). */
export const RUN_USER_PATTERN = '^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31})?$';
export const RUN_USER_RULE = "give USER[:GROUP], each a name (letters, digits, '_', '.', '-', at most 32) or a number";

/** run --workdir: an absolute guest path the kernel command line can carry (no blanks, no quotes). */
export const WORKDIR_PATTERN = '^/[^\\s"]*$';
export const WORKDIR_RULE = 'give an absolute guest path without blanks or quotes';

/** run --entrypoint: a program (a path, or a name looked up in the app's PATH) the command line can carry. */
export const ENTRYPOINT_PATTERN = '^[^\\s"-][^\\s"]*$';
export const ENTRYPOINT_RULE = 'give one program, a path or a name, without blanks or quotes (its arguments go after the image)';

/** run --dns-option: a resolv.conf option, a word or WORD:N (ndots:2, timeout:1, rotate, edns0). */
export const DNS_OPTION_PATTERN = '^[a-z0-9_-]+(:[0-9]{1,3})?$';
export const DNS_OPTION_RULE = 'give a resolv.conf option: a word, or WORD:NUMBER such as ndots:2';

export const KEY_VALUE_PATTERN = '^[A-Za-z_][A-Za-z0-9_.]*=';
export const KEY_VALUE_RULE = 'use KEY=VALUE, where KEY is letters, digits, "_" and "." not starting with a digit';

export const TAIL_PATTERN = '^(all|[0-9]+)$';
export const TAIL_RULE = 'the number of lines to show is a whole number or "all"';

/** The rule a pattern stands for, by its source text. */
export const PATTERN_RULES: Readonly<Record<string, string>> = {
  [NAME_PATTERN]: NAME_RULE,
  [VOLUME_NAME_PATTERN]: VOLUME_NAME_RULE,
  [KEY_VALUE_PATTERN]: KEY_VALUE_RULE,
  [HOSTNAME_PATTERN]: HOSTNAME_RULE,
  [RUN_USER_PATTERN]: RUN_USER_RULE,
  [WORKDIR_PATTERN]: WORKDIR_RULE,
  [ENTRYPOINT_PATTERN]: ENTRYPOINT_RULE,
  [DNS_OPTION_PATTERN]: DNS_OPTION_RULE,
  [TAIL_PATTERN]: TAIL_RULE,
};

/** Restart policies (Docker's): the one list for the API's schema, the CLI's --restart and the instances. */
export const RESTART_POLICY_NAMES = ['no', 'on-failure', 'always', 'unless-stopped'] as const;
export type RestartPolicyName = (typeof RESTART_POLICY_NAMES)[number];
/** A restart policy as instances keep it: on-failure gives up after maximumRetryCount restarts (0: never). */
export interface RestartPolicySettings {
  name: RestartPolicyName;
  maximumRetryCount: number;
}
