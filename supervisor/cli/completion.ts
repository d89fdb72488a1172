// podd completion bash: a bash completion script for the verbs, their flags, and pod names
// (asked of the daemon with `podd get pods -o name` when a pod name is expected).
import { PoddError } from "../base/errors.ts";
import type { Verb } from "./lib/verb.ts";

/** Flags per verb; kept next to the script so a new flag is one line here. */
export const COMPLETION_FLAGS: Readonly<Record<string, readonly string[]>> = {
  apply: ["-f", "--filename", "--wait", "--timeout", "--dry-run=client", "--validate", "--socket", "--root", "--run-root", "--log-root", "--cgroup-parent", "--pod-network", "--cni-conf-dir", "--cni-bin-dir"],
  completion: [],
  create: ["--from-file", "--from-literal", "--from-env-file", "--append-hash", "--type", "--docker-server", "--docker-username", "--docker-password", "--docker-email", "--cert", "--key", "--dry-run=client", "-o", "--output", "-n", "--namespace", "--socket"],
  daemon: ["--socket", "--root", "--run-root", "--log-root", "--cgroup-parent", "--group", "--manifests", "--image-import", "--image-gc-high-threshold", "--image-gc-low-threshold", "--registries", "--authfile", "--pod-network", "--cni-conf-dir", "--cni-bin-dir", "--cni-timeout"],
  delete: ["-f", "--filename", "--grace-period", "--now", "--wait=false", "--timeout", "--all", "-l", "--selector", "-n", "--namespace", "-A", "--all-namespaces", "--socket"],
  describe: ["-n", "--namespace", "--socket"],
  events: ["-w", "--watch", "-n", "--namespace", "-A", "--all-namespaces", "--socket"],
  exec: ["-c", "--container", "-i", "--stdin", "-t", "--tty", "-n", "--namespace", "--socket"],
  get: ["-o", "--output", "-w", "--watch", "-l", "--selector", "--field-selector", "-n", "--namespace", "-A", "--all-namespaces", "--socket"],
  image: ["pull", "load", "import", "ls", "inspect", "rm", "prune", "-i", "-o", "-q", "--env", "--workdir", "--replace", "--registries", "--authfile", "--root", "--socket"],
  login: ["-u", "--username", "-p", "--password", "--password-stdin", "--authfile", "--registries", "--root"],
  logout: ["--authfile"],
  logs: ["-c", "--container", "-f", "--follow", "-p", "--previous", "--tail", "--timestamps", "--since", "--all-containers", "--prefix", "-n", "--namespace", "--socket"],
  run: ["-f", "--filename", "-o", "--timeout", "--validate", "--root", "--run-root", "--log-root", "--cgroup-parent", "--pod-network", "--cni-conf-dir", "--cni-bin-dir", "--cni-timeout"],
  top: ["--containers", "-n", "--namespace", "-A", "--all-namespaces", "--socket"],
  validate: ["-f", "--filename", "--validate"],
  version: ["--client", "--socket"],
  wait: ["--for=condition=Ready", "--for=delete", "--timeout", "-n", "--namespace", "--socket"],
};

/** Verbs whose next word is a resource type, then pod names. */
const RESOURCE_VERBS = ["get", "describe", "delete", "top"];
/** Verbs whose first argument is a pod name. */
const POD_VERBS = ["logs", "exec"];

export function bashCompletion(): string {
  const verbs = Object.keys(COMPLETION_FLAGS).sort();
  const cases = verbs.map((v) => `        ${v}) flags="${COMPLETION_FLAGS[v]!.join(" ")}" ;;`).join("\n");
  return `# bash completion for podd; load it with: source <(podd completion bash)
_podd_pods() {
    local ns_args=()
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "\${COMP_WORDS[i]}" in
            -n|--namespace) ns_args=(-n "\${COMP_WORDS[i+1]}") ;;
        esac
    done
    podd get pods "\${ns_args[@]}" -o name 2>/dev/null | sed 's|^pod/||'
}

_podd() {
    local cur prev verb flags words_after
    cur="\${COMP_WORDS[COMP_CWORD]}"
    prev="\${COMP_WORDS[COMP_CWORD-1]}"
    if [[ \${COMP_CWORD} -eq 1 ]]; then
        COMPREPLY=($(compgen -W "${verbs.join(" ")} help" -- "\${cur}"))
        return
    fi
    verb="\${COMP_WORDS[1]}"
    case "\${verb}" in
${cases}
        *) flags="" ;;
    esac
    case "\${prev}" in
        -f|--filename|--from-file|--from-env-file|--cert|--key)
            COMPREPLY=($(compgen -f -- "\${cur}"))
            return ;;
        -o|--output)
            COMPREPLY=($(compgen -W "wide json yaml name" -- "\${cur}"))
            return ;;
        -n|--namespace|-c|--container|--tail|--since|--timeout|--grace-period|-l|--selector|--field-selector|--socket|--validate|--from-literal|--type|--docker-server|--docker-username|--docker-password|--docker-email)
            return ;;
    esac
    if [[ "\${cur}" == -* ]]; then
        COMPREPLY=($(compgen -W "\${flags}" -- "\${cur}"))
        return
    fi
    case "\${verb}" in
        ${RESOURCE_VERBS.join("|")})
            if [[ \${COMP_CWORD} -eq 2 ]]; then
                COMPREPLY=($(compgen -W "pods" -- "\${cur}"))
            else
                COMPREPLY=($(compgen -W "$(_podd_pods)" -- "\${cur}"))
            fi ;;
        ${POD_VERBS.join("|")})
            COMPREPLY=($(compgen -W "$(_podd_pods)" -- "\${cur}")) ;;
        completion)
            COMPREPLY=($(compgen -W "bash" -- "\${cur}")) ;;
        create)
            if [[ \${COMP_CWORD} -eq 2 ]]; then
                COMPREPLY=($(compgen -W "configmap secret" -- "\${cur}"))
            elif [[ \${COMP_CWORD} -eq 3 && "\${prev}" == secret ]]; then
                COMPREPLY=($(compgen -W "generic docker-registry tls" -- "\${cur}"))
            fi ;;
    esac
}
complete -F _podd podd
`;
}

export const completion: Verb = {
  summary: "Print a shell completion script (bash)",
  usage: "bash",
  async run(argv) {
    const shell = argv[0];
    if (shell !== "bash") throw new PoddError(`unsupported shell "${shell ?? ""}": podd completion bash`, { code: "Invalid" });
    process.stdout.write(bashCompletion());
    return 0;
  },
};
