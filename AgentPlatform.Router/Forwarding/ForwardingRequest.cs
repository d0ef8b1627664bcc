using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Forwarding;

/// <summary>One client request on its way through the pool: what it carries and what its attempts have seen.</summary>
internal sealed class ForwardingRequest(
    HttpContext context, ModelGroup group, ReadOnlyMemory<byte> body, Range modelToken, bool stream, long deadlineTicks)
    : IDisposable
{
    private CancellationTokenSource _attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);

    public HttpContext Context { get; } = context;

    /// <summary>The model group the client asked for.</summary>
    public ModelGroup RequestedGroup { get; } = group;

    /// <summary>The group being tried: the requested one, or a fallback of it.</summary>
    public ModelGroup Group { get; private set; } = group;

    /// <summary>Which API the request speaks: chat completions, embeddings or Anthropic's messages.</summary>
    public ModelApi Api { get; init; }

    /// <summary>A Messages request's <c>anthropic-version</c> and <c>anthropic-beta</c>, for Anthropic deployments.</summary>
    public (string? Version, string? Beta) AnthropicHeaders { get; init; }

    /// <summary>A Messages stream's usage as it passes (it comes in two events); null until the stream begins.</summary>
    public AnthropicStreamUsage? StreamUsage { get; set; }

    /// <summary>What the client said of <c>stream_options</c>: whether it wants the usage chunk.</summary>
    public StreamOptionsKind StreamOptions { get; init; }

    /// <summary>Whether the caller (the Api) asked for the stream's usage line (<see cref="UsageReport"/>).</summary>
    public bool ReportsUsage { get; init; }

    /// <summary>The prompt's estimated tokens; 0 until estimated.</summary>
    public int PromptTokens { get; set; }

    /// <summary>How many answers the request asks for (<c>n</c>): what it may write is that many times its output.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>The request's estimated size in tokens (prompt + requested output, per answer and for all); default until estimated.</summary>
    public RequestSize Size { get; set; }

    /// <summary>Whether the context-window fallbacks have been turned to already.</summary>
    public bool UsedContextWindowFallback { get; set; }

    /// <summary>Moves on to a fallback group: its deployments, a fresh round of backoffs.</summary>
    public void SwitchTo(ModelGroup group)
    {
        Group = group;
        Tried.Clear();
        Backoffs = 0;
        SawOtherOutcome = false;
    }

    public ReadOnlyMemory<byte> Body { get; } = body;

    public Range ModelToken { get; } = modelToken;

    /// <summary>Whether the client asked for server-sent events.</summary>
    public bool Stream { get; } = stream;

    /// <summary>When (UTC ticks) the request's total time is up.</summary>
    public long DeadlineTicks { get; } = deadlineTicks;

    /// <summary>Deployments tried since the last backoff; not tried again until the next.</summary>
    public List<Deployment> Tried { get; } = new(capacity: 2);

    /// <summary>Rounds of backoff so far, which set the next one's length.</summary>
    public int Backoffs { get; set; }

    /// <summary>The deployment of the last attempt, for retry metrics.</summary>
    public string? LastDeployment { get; set; }

    /// <summary>Deployments called so far.</summary>
    public int Attempts { get; set; }

    /// <summary>Why the last attempt got no answer, for the client's error.</summary>
    public string? LastFailure { get; set; }

    /// <summary>Whether the retry budget refused a retry the request needed.</summary>
    public bool OutOfRetryBudget { get; set; }

    /// <summary>Who the request counts as in the breakers (the Api's <c>x-agentplatform-client</c>); null when not said.</summary>
    public string? Client { get; init; }

    /// <summary>
    /// The 5xx answers of the current group's attempts, one per deployment, not yet told to the
    /// breakers: whether each is the deployment's failure or the request's is judged from all of them.
    /// Null until the first: most requests never get one, and allocate nothing for it.
    /// </summary>
    public List<(Deployment Deployment, AttemptResult Result)>? ServerErrors { get; private set; }

    /// <summary>Whether an attempt on the current group ended otherwise than with a 5xx answer.</summary>
    public bool SawOtherOutcome { get; set; }

    /// <summary>Set when the request failed alike on every deployment it tried: its failure is likely its own.</summary>
    public bool FailedAlikeEverywhere { get; set; }

    /// <summary>Keeps a 5xx answer for judging; a deployment that answered one already is counted once.</summary>
    public void HoldServerError(Deployment deployment, AttemptResult result)
    {
        foreach (var (held, _) in ServerErrors ??= new(capacity: 2))
        {
            if (held == deployment)
            {
                deployment.Breaker.OnAbandoned();
                return;
            }
        }
        ServerErrors.Add((deployment, result));
    }

    /// <summary>
    /// The timeout of the current phase of an attempt (until the answer starts, then between reads),
    /// re-armed per phase; a fresh one once a timeout has fired. Also cancelled when the client leaves.
    /// </summary>
    public CancellationTokenSource AttemptTimeout()
    {
        if (!_attemptTimeout.TryReset())
        {
            _attemptTimeout.Dispose();
            _attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(Context.RequestAborted);
        }
        return _attemptTimeout;
    }

    public void Dispose() => _attemptTimeout.Dispose();
}
