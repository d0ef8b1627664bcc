using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// Picks the deployment to try from the candidates still available for a request (same priority,
/// not yet tried). Implementations are stateless; live state comes from <see cref="Deployment.State"/>.
/// </summary>
public interface IRoutingStrategy
{
    /// <summary>The name a model group's <c>Strategy</c> uses; see <see cref="RoutingStrategyNames"/>.</summary>
    string Name { get; }

    /// <summary>Picks one of <paramref name="candidates"/>, which is never empty.</summary>
    Deployment Pick(IReadOnlyList<Deployment> candidates);
}
