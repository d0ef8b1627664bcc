namespace AgentPlatform.Router.Configuration;

/// <summary>The strategies a model group's <c>Strategy</c> may name (implemented in <c>Routing/</c>).</summary>
public static class RoutingStrategyNames
{
    public const string Weighted = "weighted";
    public const string LeastBusy = "least-busy";
    public const string LowestLatency = "lowest-latency";
    public const string UsageBased = "usage-based";
    public const string Cheapest = "cheapest";

    public static readonly string[] All = [Weighted, LeastBusy, LowestLatency, UsageBased, Cheapest];
}
