namespace AgentPlatform.Contracts.Usage;

/// <summary>
/// A model group's worst case, as the Router's <c>GET /v1/model-groups/prices</c> lists it: the highest
/// prices of any deployment a request to the group could reach (its fallbacks included), and the most it
/// may write (null when some deployment has no limit). The Api reserves budgets against it.
/// </summary>
/// <remarks><see cref="InputPerMillion"/> is the highest a prompt token can cost, cache writes included.</remarks>
public sealed record WorstCase(string Model, double InputPerMillion, double CachedInputPerMillion, double OutputPerMillion, int? MaxOutputTokens)
{
    public Prices Prices => new(InputPerMillion, CachedInputPerMillion, OutputPerMillion);
}
