#compdef multiclaude-coord
# zsh completion for multiclaude-coord
# generated from the CLI definition by `multiclaude-coord completion`; test/cli/completions.test.ts keeps it in step
_multiclaude_coord() {
  local path_="" w i prev
  local -a cmds opts dyn
  for ((i = 2; i < CURRENT; i++)); do
    w=${words[i]}
    [[ $w == -* ]] && continue
    case "${path_:+$path_ }$w" in
      "serve"|"status"|"nodes"|"nodes list"|"nodes show"|"nodes forget"|"nodes cordon"|"nodes uncordon"|"state"|"tasks"|"tasks list"|"tasks pending"|"tasks show"|"tasks create"|"tasks cancel"|"tasks retry"|"tasks import"|"tasks claim"|"tasks complete"|"tasks fail"|"tasks release"|"register"|"heartbeat"|"deregister"|"agent"|"events"|"messages"|"messages send"|"messages list"|"messages ack"|"webhooks"|"webhooks list"|"webhooks test"|"doctor"|"config"|"config init"|"completion") path_="${path_:+$path_ }$w" ;;
    esac
  done
  prev=${words[CURRENT-1]}
  case "$path_:$prev" in
    *":--output"|*":-o") compadd -- table wide name json; return ;;
    "serve:--log-level") compadd -- fatal error warn info debug trace silent; return ;;
    "nodes:--status"|"nodes list:--status") compadd -- online offline deregistered; return ;;
    "tasks:--status"|"tasks list:--status") compadd -- waiting pending claimed orphaned completed failed cancelled; return ;;
    "tasks create:--priority") compadd -- critical high medium low; return ;;
    "heartbeat:--status") compadd -- healthy degraded draining; return ;;
    "messages:--status"|"messages list:--status") compadd -- pending acked; return ;;
    "tasks:--repo"|"tasks list:--repo"|"tasks pending:--repo"|"tasks create:--repo"|"tasks claim:--repo"|"events:--repo"|"messages send:--repo") compadd -- ${(f)"$(multiclaude-coord __complete repos 2>/dev/null)"}; return ;;
    "tasks:--node"|"tasks list:--node"|"messages:--node"|"messages list:--node") compadd -- ${(f)"$(multiclaude-coord __complete nodes 2>/dev/null)"}; return ;;
    "events:--type") compadd -- ${(f)"$(multiclaude-coord __complete event-types 2>/dev/null)"}; return ;;
    *":--config") _files; return ;;
    *":--url"|*":--token"|*":--timeout"|"serve:--listen"|"serve:--store"|"nodes:--label"|"nodes:--limit"|"nodes:--cursor"|"nodes list:--label"|"nodes list:--limit"|"nodes list:--cursor"|"tasks:--label"|"tasks:--limit"|"tasks:--cursor"|"tasks list:--label"|"tasks list:--limit"|"tasks list:--cursor"|"tasks pending:--label"|"tasks pending:--limit"|"tasks create:--description"|"tasks create:--label"|"tasks create:--max-attempts"|"tasks create:--idempotency-key"|"tasks create:--not-before"|"tasks create:--depends-on"|"tasks create:--concurrency-key"|"tasks create:--concurrency-limit"|"tasks cancel:--reason"|"tasks claim:--wait"|"tasks claim:--worker"|"tasks complete:--pr"|"tasks complete:--summary"|"tasks complete:--branch"|"tasks fail:--reason"|"tasks release:--reason"|"register:--node-id"|"register:--hostname"|"register:--label"|"register:--max-workers"|"register:--current-workers"|"heartbeat:--current-workers"|"agent:--node-id"|"agent:--hostname"|"agent:--label"|"agent:--max-workers"|"agent:--heartbeat-interval"|"agent:--claim-wait"|"agent:--grace-period"|"agent:--check-interval"|"agent:--multiclaude-home"|"agent:--repo-map"|"events:--since"|"events:--limit"|"messages:--to"|"messages:--limit"|"messages:--cursor"|"messages send:--from"|"messages send:--to"|"messages send:--body"|"messages list:--to"|"messages list:--limit"|"messages list:--cursor"|"config init:--file") _message 'value'; return ;;
  esac
  case "$path_" in
    "")
      cmds=('serve:Run the coordination server' 'status:Show the coordinator'\''s version, uptime, store and node/task counts' 'nodes:List registered nodes, show one, cordon, uncordon or forget one' 'state:Show a repo'\''s agents' 'tasks:List, create, claim and finish tasks' 'register:Register this machine as a node' 'heartbeat:Send one heartbeat for this machine'\''s registration' 'deregister:Leave the coordinator; this node'\''s claims go back to pending' 'agent:Run this machine as a worker pool: claim fitting tasks, start multiclaude workers, report their PRs' 'events:Follow the event stream' 'messages:Send, list and acknowledge inter-agent messages' 'webhooks:Show webhook deliveries' 'doctor:Check this machine'\''s setup: config, token, coordinator reachability and TLS, clock skew, multiclaude and gh, state.json' 'config:Write a starting configuration file' 'completion:Print the shell completion script')
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "serve")
      cmds=()
      opts=('--listen:address to listen on, e.g. :7331 or 127.0.0.1:7331' '--store:store: sqlite://PATH, memory://, redis://HOST:PORT/DB or redis+sentinel://HOST:PORT,…/MASTER/DB' '--log-level:request log on stderr' '--insecure:allow a non-loopback address with server.auth.require_auth false' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "status")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes")
      cmds=('list:List registered nodes by id' 'show:Show one node: health, claims, CPU/memory, labels, agents, claimed tasks' 'forget:Forget a node now' 'cordon:Cordon a node' 'uncordon:Uncordon a node')
      opts=('--status:only nodes with this status' '--label:only nodes with this label' '--watch:redraw on every node, agent or task event' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes list")
      cmds=()
      opts=('--status:only nodes with this status' '--label:only nodes with this label' '--watch:redraw on every node, agent or task event' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes show")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete nodes 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes forget")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete nodes 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes cordon")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete nodes 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "nodes uncordon")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete nodes 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "state")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete repos 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks")
      cmds=('list:List tasks, newest first' 'pending:Tasks a node with these labels could claim, best first' 'show:Show one task' 'create:Create a task' 'cancel:Cancel an unfinished task' 'retry:Run a failed or cancelled task again' 'import:Create tasks from a JSON Lines file' 'claim:Claim a task by id, or the best fitting one with --next' 'complete:Mark a claimed task done' 'fail:Report a claimed task failed; it is retried while attempts remain unless --no-retry' 'release:Give a claimed task back to pending')
      opts=('--status:only tasks in this state' '--repo:only tasks of this repo' '--label:only tasks with this label' '--node:only tasks claimed by this node' '--watch:redraw on every task event' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks list")
      cmds=()
      opts=('--status:only tasks in this state' '--repo:only tasks of this repo' '--label:only tasks with this label' '--node:only tasks claimed by this node' '--watch:redraw on every task event' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks pending")
      cmds=()
      opts=('--label:the node'\''s labels' '--repo:only tasks of this repo' '--limit:at most this many' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks show")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete tasks 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks create")
      cmds=()
      opts=('--repo:repository the task is about' '--description:what to do' '--priority:default from tasks.default_priority on the server' '--label:a label the claiming node must have' '--max-attempts:claims before the task fails for good' '--idempotency-key:same key → same task' '--not-before:waiting until then: ISO time or +10m, +2h, +1d' '--depends-on:waiting until that task completed; cancelled if it fails' '--concurrency-key:at most --concurrency-limit tasks with this key are claimed at once' '--concurrency-limit:how many tasks of the key may be claimed at once' '--quiet:print only the task id' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks cancel")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete tasks 2>/dev/null)"})
      opts=('--reason:why' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks retry")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete tasks 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks import")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks claim")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete pending-tasks 2>/dev/null)"})
      opts=('--next:claim the best task that fits this node' '--wait:with --next: wait this long for a task to appear' '--worker:the worker that will do it' '--repo:with --next: only tasks of this repo' '--quiet:print only the task id' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks complete")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete claimed-tasks 2>/dev/null)"})
      opts=('--pr:the pull request' '--summary:what was done' '--branch:the git branch the work is on' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks fail")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete claimed-tasks 2>/dev/null)"})
      opts=('--reason:what went wrong' '--no-retry:fail it for good' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "tasks release")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete claimed-tasks 2>/dev/null)"})
      opts=('--reason:why' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "register")
      cmds=()
      opts=('--node-id:this node'\''s id' '--hostname:reported hostname' '--label:a label of this node' '--max-workers:claims this node may hold at once, 0-1024' '--current-workers:workers running now, 0-1024' '--quiet:print only the registration id' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "heartbeat")
      cmds=()
      opts=('--status:this node'\''s health' '--current-workers:workers running now, 0-1024' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "deregister")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "agent")
      cmds=()
      opts=('--node-id:this node'\''s id' '--hostname:reported hostname' '--label:a label of this node' '--max-workers:tasks run at once, 1-1024' '--heartbeat-interval:heartbeat every' '--claim-wait:long-poll wait of a claim' '--grace-period:on SIGTERM, how long workers may finish before their tasks are released' '--check-interval:how often multiclaude'\''s state.json is read' '--multiclaude-home:multiclaude'\''s home' '--repo-map:coordinator repo name = local multiclaude repo name' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "events")
      cmds=()
      opts=('--since:start after this event id' '--type:only these event types, e.g. task.* or node.offline' '--repo:only events about this repo' '--no-follow:print the events after --since and exit' '--limit:stop after this many events' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "messages")
      cmds=('send:Send a message to agent@node' 'list:List stored messages, oldest first' 'ack:Acknowledge a message')
      opts=('--node:messages addressed to agents on this node' '--to:messages addressed to this agent' '--status:pending' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "messages send")
      cmds=()
      opts=('--from:sender' '--to:recipient' '--body:the message' '--repo:resolve a bare --to name through this repo'\''s agents' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "messages list")
      cmds=()
      opts=('--node:messages addressed to agents on this node' '--to:messages addressed to this agent' '--status:pending' '--limit:at most this many per page' '--cursor:continue after a previous page' '--all:follow every page' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "messages ack")
      cmds=()
      [[ $PREFIX == -* ]] || dyn=(${(f)"$(multiclaude-coord __complete messages 2>/dev/null)"})
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "webhooks")
      cmds=('list:List the coordinator'\''s webhooks: position, lag, last status and error, skipped events, which replica delivers' 'test:Send one webhook.test event to a webhook now, through the coordinator; exit 1 when the receiver does not answer 2xx')
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "webhooks list")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "webhooks test")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "doctor")
      cmds=()
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "config")
      cmds=('init:Write a commented coordination.yaml for a coordinator or a node')
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "config init")
      cmds=()
      opts=('--coordinator:the coordinator'\''s side' '--node:a node'\''s side' '--file:where to write it' '--force:overwrite an existing file' '--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
    "completion")
      cmds=('bash' 'zsh' 'fish')
      opts=('--version:output the version number' '--url:coordinator URL' '--token:bearer token' '--config:config file' '--json:print the API'\''s data as JSON on stdout' '--output:lists: table' '--no-color:no colour' '--timeout:per-request timeout' '--help:show help') ;;
  esac
  local ret=1
  if [[ $PREFIX == -* ]]; then
    _describe 'option' opts && ret=0
  else
    _describe 'command' cmds && ret=0
    (( ${#dyn} )) && compadd -- $dyn && ret=0
  fi
  return $ret
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _multiclaude_coord "$@"
else
  compdef _multiclaude_coord multiclaude-coord
fi
