using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Pool;

/// <summary>Every model group the Router serves, by name.</summary>
public sealed class ModelPool(IOptions<RouterOptions> options)
{
    private readonly Dictionary<string, ModelGroup> _groups = options.Value.ModelGroups.ToDictionary(
        pair => pair.Key,
        pair => new ModelGroup(pair.Key, pair.Value.Deployments.Select(d => new Deployment(d))),
        StringComparer.Ordinal);

    public IEnumerable<ModelGroup> Groups => _groups.Values;

    public bool TryGetGroup(string name, [NotNullWhen(true)] out ModelGroup? group) => _groups.TryGetValue(name, out group);
}
