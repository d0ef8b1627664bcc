namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Where a tenant's limit state lives: the request and token windows, concurrency leases and spend
/// counters of the tenant and of each of its keys are named under one hash tag,
/// <c>agentplatform:{t:&lt;tenant id&gt;}:</c>, so the limiter's one script per request — which checks and
/// takes from a key and its tenant together — runs on one hash slot of a Redis Cluster. The price: all
/// of one tenant's requests are served by one shard (docs/redis.md gives its ceiling).
/// </summary>
public static class TenantSlot
{
    public static string Prefix(string tenantId) => $"agentplatform:{{t:{tenantId}}}:";
}
