# bash completion for multiclaude-coord
# generated from the CLI definition by `multiclaude-coord completion`; test/cli/completions.test.ts keeps it in step
_multiclaude_coord() {
  local cur prev path w i words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case "${path:+$path }$w" in
      "serve"|"status"|"nodes"|"nodes list"|"nodes show"|"nodes forget"|"nodes cordon"|"nodes uncordon"|"state"|"tasks"|"tasks list"|"tasks pending"|"tasks show"|"tasks create"|"tasks cancel"|"tasks retry"|"tasks import"|"tasks claim"|"tasks complete"|"tasks fail"|"tasks release"|"register"|"heartbeat"|"deregister"|"agent"|"events"|"messages"|"messages send"|"messages list"|"messages ack"|"webhooks"|"webhooks list"|"webhooks test"|"doctor"|"config"|"config init"|"completion") path="${path:+$path }$w" ;;
    esac
  done
  case "$path:$prev" in
    *":--output"|*":-o") COMPREPLY=($(compgen -W "table wide name json" -- "$cur")); return ;;
    "serve:--log-level") COMPREPLY=($(compgen -W "fatal error warn info debug trace silent" -- "$cur")); return ;;
    "nodes:--status"|"nodes list:--status") COMPREPLY=($(compgen -W "online offline deregistered" -- "$cur")); return ;;
    "tasks:--status"|"tasks list:--status") COMPREPLY=($(compgen -W "waiting pending claimed orphaned completed failed cancelled" -- "$cur")); return ;;
    "tasks create:--priority") COMPREPLY=($(compgen -W "critical high medium low" -- "$cur")); return ;;
    "heartbeat:--status") COMPREPLY=($(compgen -W "healthy degraded draining" -- "$cur")); return ;;
    "messages:--status"|"messages list:--status") COMPREPLY=($(compgen -W "pending acked" -- "$cur")); return ;;
    "tasks:--repo"|"tasks list:--repo"|"tasks pending:--repo"|"tasks create:--repo"|"tasks claim:--repo"|"events:--repo"|"messages send:--repo") COMPREPLY=($(compgen -W "$(multiclaude-coord __complete repos 2>/dev/null)" -- "$cur")); return ;;
    "tasks:--node"|"tasks list:--node"|"messages:--node"|"messages list:--node") COMPREPLY=($(compgen -W "$(multiclaude-coord __complete nodes 2>/dev/null)" -- "$cur")); return ;;
    "events:--type") COMPREPLY=($(compgen -W "$(multiclaude-coord __complete event-types 2>/dev/null)" -- "$cur")); return ;;
    *":--config") COMPREPLY=($(compgen -f -- "$cur")); return ;;
    *":--url"|*":--token"|*":--timeout"|"serve:--listen"|"serve:--store"|"nodes:--label"|"nodes:--limit"|"nodes:--cursor"|"nodes list:--label"|"nodes list:--limit"|"nodes list:--cursor"|"tasks:--label"|"tasks:--limit"|"tasks:--cursor"|"tasks list:--label"|"tasks list:--limit"|"tasks list:--cursor"|"tasks pending:--label"|"tasks pending:--limit"|"tasks create:--description"|"tasks create:--label"|"tasks create:--max-attempts"|"tasks create:--idempotency-key"|"tasks create:--not-before"|"tasks create:--depends-on"|"tasks create:--concurrency-key"|"tasks create:--concurrency-limit"|"tasks cancel:--reason"|"tasks claim:--wait"|"tasks claim:--worker"|"tasks complete:--pr"|"tasks complete:--summary"|"tasks complete:--branch"|"tasks fail:--reason"|"tasks release:--reason"|"register:--node-id"|"register:--hostname"|"register:--label"|"register:--max-workers"|"register:--current-workers"|"heartbeat:--current-workers"|"agent:--node-id"|"agent:--hostname"|"agent:--label"|"agent:--max-workers"|"agent:--heartbeat-interval"|"agent:--claim-wait"|"agent:--grace-period"|"agent:--check-interval"|"agent:--multiclaude-home"|"agent:--repo-map"|"events:--since"|"events:--limit"|"messages:--to"|"messages:--limit"|"messages:--cursor"|"messages send:--from"|"messages send:--to"|"messages send:--body"|"messages list:--to"|"messages list:--limit"|"messages list:--cursor"|"config init:--file") return ;;
  esac
  case "$path" in
    "") words="serve status nodes state tasks register heartbeat deregister agent events messages webhooks doctor config completion --version --url --token --config --json --output --no-color --timeout --help" ;;
    "serve") words="--listen --store --log-level --insecure --version --url --token --config --json --output --no-color --timeout --help" ;;
    "status") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "nodes") words="list show forget cordon uncordon --status --label --watch --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "nodes list") words="--status --label --watch --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "nodes show") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete nodes 2>/dev/null)" ;;
    "nodes forget") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete nodes 2>/dev/null)" ;;
    "nodes cordon") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete nodes 2>/dev/null)" ;;
    "nodes uncordon") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete nodes 2>/dev/null)" ;;
    "state") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete repos 2>/dev/null)" ;;
    "tasks") words="list pending show create cancel retry import claim complete fail release --status --repo --label --node --watch --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "tasks list") words="--status --repo --label --node --watch --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "tasks pending") words="--label --repo --limit --version --url --token --config --json --output --no-color --timeout --help" ;;
    "tasks show") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete tasks 2>/dev/null)" ;;
    "tasks create") words="--repo --description --priority --label --max-attempts --idempotency-key --not-before --depends-on --concurrency-key --concurrency-limit --quiet --version --url --token --config --json --output --no-color --timeout --help" ;;
    "tasks cancel") words="--reason --version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete tasks 2>/dev/null)" ;;
    "tasks retry") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete tasks 2>/dev/null)" ;;
    "tasks import") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "tasks claim") words="--next --wait --worker --repo --quiet --version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete pending-tasks 2>/dev/null)" ;;
    "tasks complete") words="--pr --summary --branch --version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete claimed-tasks 2>/dev/null)" ;;
    "tasks fail") words="--reason --no-retry --version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete claimed-tasks 2>/dev/null)" ;;
    "tasks release") words="--reason --version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete claimed-tasks 2>/dev/null)" ;;
    "register") words="--node-id --hostname --label --max-workers --current-workers --quiet --version --url --token --config --json --output --no-color --timeout --help" ;;
    "heartbeat") words="--status --current-workers --version --url --token --config --json --output --no-color --timeout --help" ;;
    "deregister") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "agent") words="--node-id --hostname --label --max-workers --heartbeat-interval --claim-wait --grace-period --check-interval --multiclaude-home --repo-map --version --url --token --config --json --output --no-color --timeout --help" ;;
    "events") words="--since --type --repo --no-follow --limit --version --url --token --config --json --output --no-color --timeout --help" ;;
    "messages") words="send list ack --node --to --status --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "messages send") words="--from --to --body --repo --version --url --token --config --json --output --no-color --timeout --help" ;;
    "messages list") words="--node --to --status --limit --cursor --all --version --url --token --config --json --output --no-color --timeout --help" ;;
    "messages ack") words="--version --url --token --config --json --output --no-color --timeout --help"; [[ $cur == -* ]] || words="$words $(multiclaude-coord __complete messages 2>/dev/null)" ;;
    "webhooks") words="list test --version --url --token --config --json --output --no-color --timeout --help" ;;
    "webhooks list") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "webhooks test") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "doctor") words="--version --url --token --config --json --output --no-color --timeout --help" ;;
    "config") words="init --version --url --token --config --json --output --no-color --timeout --help" ;;
    "config init") words="--coordinator --node --file --force --version --url --token --config --json --output --no-color --timeout --help" ;;
    "completion") words="bash zsh fish --version --url --token --config --json --output --no-color --timeout --help" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _multiclaude_coord multiclaude-coord
