using System.Diagnostics;
using AgentPlatform.Api.Keys;
using AgentPlatform.Api.Routing;

namespace AgentPlatform.Api.Admin;

/// <summary>The admin API, <c>/admin/v1</c>, for the master key only.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/v1").WithTags("Admin");
        admin.MapGet("/deployments", ListDeploymentsAsync)
            .WithName("ListDeployments")
            .WithSummary("Every deployment with its live state: breaker, requests in flight, latency, error rate, last error.");
        return app;
    }

    private static async Task ListDeploymentsAsync(HttpContext context, MasterKeyAuthenticator authenticator, RouterClient router)
    {
        var started = Stopwatch.GetTimestamp();
        if (await authenticator.AuthenticateAsync(context))
        {
            await router.ForwardAsync(context, HttpMethod.Get, "/admin/v1/deployments", body: null, started);
        }
    }
}
