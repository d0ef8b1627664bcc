using System.Diagnostics;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Keys;
using AgentPlatform.Api.Routing;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Usage;

namespace AgentPlatform.Api.Admin;

/// <summary>The admin API, <c>/admin/v1</c>, for the master key only.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/v1").WithTags("Admin");
        // The master key, and nothing else, opens every admin endpoint.
        admin.AddEndpointFilter(async (invocation, next) =>
            await invocation.HttpContext.RequestServices.GetRequiredService<MasterKeyAuthenticator>().AuthenticateAsync(invocation.HttpContext)
                ? await next(invocation)
                : Results.Empty);
        admin.MapTenancyAdminApi();
        admin.MapUsageAdminApi();
        admin.MapCacheAdminApi();
        admin.MapAlertsAdminApi();
        admin.MapGet("/deployments", ListDeploymentsAsync)
            .WithName("ListDeployments")
            .WithSummary("Every deployment with its live state: breaker, requests in flight, latency, error rate, last error.");
        return app;
    }

    /// <summary>OpenAI's list shape, <c>{"object":"list","data":[...]}</c>, for every admin listing.</summary>
    internal static object List<T>(IEnumerable<T> items) => new { @object = "list", data = items };

    private static Task ListDeploymentsAsync(HttpContext context, RouterClient router) =>
        router.ForwardAsync(context, HttpMethod.Get, "/admin/v1/deployments", body: null, Stopwatch.GetTimestamp());
}
