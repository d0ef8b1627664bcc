using AgentPlatform.Router.Routing;

namespace AgentPlatform.Router.Pool;

/// <summary>A model name clients ask for, and the deployments that can answer it, by priority.</summary>
public sealed class ModelGroup
{
    /// <summary>The deployments grouped by priority, lowest first; computed once so a first pick allocates nothing.</summary>
    private readonly Deployment[][] _tiers;

    public ModelGroup(string name, IEnumerable<Deployment> deployments, IRoutingStrategy strategy)
    {
        Name = name;
        Deployments = deployments.ToArray();
        Strategy = strategy;
        _tiers = Deployments.GroupBy(d => d.Priority).OrderBy(g => g.Key).Select(g => g.ToArray()).ToArray();
    }

    public string Name { get; }

    public IReadOnlyList<Deployment> Deployments { get; }

    public IRoutingStrategy Strategy { get; }

    /// <summary>
    /// The deployment to try next for a request: from the lowest priority that still has deployments
    /// the request has not tried, picked by the group's strategy; null when every one has been tried.
    /// </summary>
    public Deployment? PickNext(IReadOnlyCollection<Deployment> tried)
    {
        foreach (var tier in _tiers)
        {
            if (tried.Count == 0)
            {
                return Strategy.Pick(tier);
            }
            var untried = tier.Where(d => !tried.Contains(d)).ToArray();
            if (untried.Length > 0)
            {
                return Strategy.Pick(untried);
            }
        }
        return null;
    }
}
