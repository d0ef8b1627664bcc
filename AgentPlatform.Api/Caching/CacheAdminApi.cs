using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgentPlatform.Api.Caching;

/// <summary><c>DELETE /admin/v1/cache</c>: empties the response cache, of one tenant or of all.</summary>
public static class CacheAdminApi
{
    public static RouteGroupBuilder MapCacheAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapDelete("/cache", PurgeAsync)
            .WithName("PurgeCache")
            .WithSummary("Deletes the cached answers of a tenant (tenantId) or of every tenant, on every replica.");
        return admin;
    }

    private static async Task<Results<Ok<CachePurge>, OpenAIErrorResult>> PurgeAsync(ResponseCache cache, string? tenantId)
    {
        if (tenantId is not null && (tenantId.Length == 0 || tenantId.AsSpan().IndexOfAny("*?[]\\:{}") >= 0))
        {
            return OpenAIErrorResult.BadRequest("'tenantId' must be a tenant's id (or absent to empty every tenant's cache).", "invalid_query", "tenantId");
        }
        try
        {
            return TypedResults.Ok(new CachePurge(tenantId, await cache.PurgeAsync(tenantId)));
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            return OpenAIErrorResult.Unavailable("The cache cannot be emptied right now (Redis is unreachable); try again shortly.", "cache_unavailable");
        }
    }
}
