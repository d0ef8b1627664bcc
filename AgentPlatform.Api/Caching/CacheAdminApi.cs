using AgentPlatform.Contracts.OpenAI;
using StackExchange.Redis;

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

    private static async Task PurgeAsync(HttpContext context, ResponseCache cache, string? tenantId)
    {
        if (tenantId is not null && (tenantId.Length == 0 || tenantId.AsSpan().IndexOfAny("*?[]\\:") >= 0))
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                "'tenantId' must be a tenant's id (or absent to empty every tenant's cache).", OpenAIError.InvalidRequest, "invalid_query", "tenantId");
            return;
        }
        long deleted;
        try
        {
            deleted = await cache.PurgeAsync(tenantId);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "The cache cannot be emptied right now (Redis is unreachable); try again shortly.", OpenAIError.Server, "cache_unavailable");
            return;
        }
        await context.Response.WriteAsJsonAsync(new { @object = "cache.purge", tenantId, deleted }, context.RequestAborted);
    }
}
