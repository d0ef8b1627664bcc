using System.Diagnostics.CodeAnalysis;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Routing;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Pool;

/// <summary>Every model group the Router serves, by name, each with its routing strategy.</summary>
public sealed class ModelPool
{
    private readonly Dictionary<string, ModelGroup> _groups;

    public ModelPool(
        IOptions<RouterOptions> options,
        IEnumerable<IRoutingStrategy> strategies,
        IEnumerable<IProviderAdapter> adapters,
        ICircuitBreakerListener breakerListener,
        TimeProvider timeProvider)
    {
        var router = options.Value;
        var byName = strategies.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var adapterByName = adapters.ToDictionary(a => a.Name, StringComparer.Ordinal);
        _groups = router.ModelGroups.ToDictionary(
            pair => pair.Key,
            pair => new ModelGroup(
                pair.Key,
                pair.Value.Deployments.Select(d => new Deployment(pair.Key, d, adapterByName[d.Provider], timeProvider, router.CircuitBreaker, breakerListener)),
                byName[pair.Value.Strategy],
                new RetryBudget(router.Retry, timeProvider)),
            StringComparer.Ordinal);
    }

    public IEnumerable<ModelGroup> Groups => _groups.Values;

    public bool TryGetGroup(string name, [NotNullWhen(true)] out ModelGroup? group) => _groups.TryGetValue(name, out group);
}
