using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Router.Pool;

/// <summary>A model name clients ask for, and the deployments that can answer it, by priority.</summary>
public sealed class ModelGroup
{
    /// <summary>The deployments grouped by priority, lowest first; computed once so a first pick allocates nothing.</summary>
    private readonly Deployment[][] _tiers;

    public ModelGroup(
        string name,
        IEnumerable<Deployment> deployments,
        IRoutingStrategy strategy,
        RetryBudget retryBudget,
        IReadOnlyList<string>? fallbacks = null,
        IReadOnlyList<string>? contextWindowFallbacks = null)
    {
        Name = name;
        RetryBudget = retryBudget;
        Fallbacks = fallbacks ?? [];
        ContextWindowFallbacks = contextWindowFallbacks ?? [];
        Deployments = deployments.ToArray();
        Strategy = strategy;
        _tiers = Deployments.GroupBy(d => d.Priority).OrderBy(g => g.Key).Select(g => g.ToArray()).ToArray();
        NeedsTokenEstimate = Deployments.Any(d => d.ContextWindow is not null || d.Tpm is not null);
        Kind = Deployments.Count > 0 ? Deployments[0].Kind : DeploymentKinds.Chat;
    }

    /// <summary>What the group answers (its deployments are all of one kind): one of <see cref="DeploymentKinds"/>.</summary>
    public string Kind { get; }

    /// <summary>Groups tried in order when this one cannot answer.</summary>
    public IReadOnlyList<string> Fallbacks { get; }

    /// <summary>Groups tried in order when the prompt is too long for this one.</summary>
    public IReadOnlyList<string> ContextWindowFallbacks { get; }

    /// <summary>Whether any deployment limits its context window or tokens per minute, so requests need a token estimate.</summary>
    public bool NeedsTokenEstimate { get; }

    /// <summary>Whether some deployment of the group can take a request of this size.</summary>
    public bool Fits(RequestSize size) => Deployments.Any(d => d.Fits(size));

    public string Name { get; }

    public IReadOnlyList<Deployment> Deployments { get; }

    public IRoutingStrategy Strategy { get; }

    /// <summary>How many retries the group's requests may still make; shared by all of them.</summary>
    public RetryBudget RetryBudget { get; }

    /// <summary>
    /// The deployment to try next for a request: from the lowest priority that still has available
    /// deployments the request has not tried (breaker letting requests through, no <c>Retry-After</c>
    /// in force), picked by the group's strategy; null when there is none.
    /// </summary>
    /// <param name="size">The request's estimated size; deployments whose context window or tokens per minute are smaller are skipped (default: not estimated).</param>
    public Deployment? PickNext(IReadOnlyCollection<Deployment> tried, long nowTicks, RequestSize size = default)
    {
        foreach (var tier in _tiers)
        {
            // The common case — first try, every deployment of the tier up — allocates nothing.
            if (tried.Count == 0 && AllAvailable(tier, nowTicks, size))
            {
                return Strategy.Pick(tier);
            }
            var candidates = tier.Where(d => IsCandidate(d, tried, nowTicks, size)).ToArray();
            if (candidates.Length > 0)
            {
                return Strategy.Pick(candidates);
            }
        }
        return null;
    }

    /// <summary>Whether <see cref="PickNext"/> would find a deployment, without picking one (a strategy's pick may count).</summary>
    public bool HasUntried(IReadOnlyCollection<Deployment> tried, long nowTicks, RequestSize size = default)
    {
        foreach (var deployment in Deployments)
        {
            if (IsCandidate(deployment, tried, nowTicks, size))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A deployment a request may be sent to now: not tried yet, available, and large enough for it.</summary>
    private static bool IsCandidate(Deployment deployment, IReadOnlyCollection<Deployment> tried, long nowTicks, RequestSize size) =>
        !tried.Contains(deployment) && deployment.IsAvailable(nowTicks) && deployment.Fits(size);

    /// <summary>
    /// The earliest time a request could be sent again to a deployment whose breaker lets requests
    /// through: now if one is merely tried, else when the first <c>Retry-After</c> ends. Null when
    /// every breaker is open or every deployment drained, as waiting would hold requests for nothing.
    /// </summary>
    public long? EarliestAvailableTicks(long nowTicks, RequestSize size = default)
    {
        long? earliest = null;
        foreach (var deployment in Deployments)
        {
            if (deployment.Drain is null && deployment.Breaker.IsAvailable(nowTicks) && deployment.Fits(size))
            {
                var ticks = Math.Max(nowTicks, deployment.State.CoolDownUntilTicks);
                earliest = earliest is { } e ? Math.Min(e, ticks) : ticks;
            }
        }
        return earliest;
    }

    /// <summary>When the first open breaker of the group half-opens; null when none is open.</summary>
    public long? EarliestBreakEndTicks()
    {
        long? earliest = null;
        foreach (var deployment in Deployments)
        {
            if (deployment.Breaker.State == CircuitState.Open)
            {
                var ticks = deployment.Breaker.OpenUntil.UtcTicks;
                earliest = earliest is { } e ? Math.Min(e, ticks) : ticks;
            }
        }
        return earliest;
    }

    private static bool AllAvailable(Deployment[] tier, long nowTicks, RequestSize size)
    {
        foreach (var deployment in tier)
        {
            if (!deployment.IsAvailable(nowTicks) || !deployment.Fits(size))
            {
                return false;
            }
        }
        return true;
    }
}
