using System.Diagnostics;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;

namespace AgentPlatform.Api.Admin;

/// <summary>The admin API, <c>/admin/v1</c>, for the master key only.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        // The master key, and nothing else, opens every admin endpoint.
        var admin = app.MapGroup("/admin/v1").WithTags("Admin").RequireAuthorization(AccessPolicies.Admin);
        admin.MapTenancyAdminApi();
        admin.MapUsageAdminApi();
        admin.MapCacheAdminApi();
        admin.MapAlertsAdminApi();
        admin.MapAgentsAdminApi();
        admin.MapGet("/deployments", ListDeploymentsAsync)
            .WithName("ListDeployments")
            .WithSummary("Every deployment with its live state: breaker, requests in flight, latency, error rate, last error.");
        admin.MapPost("/deployments/{group}/{name}/drain", DrainAsync)
            .WithName("DrainDeployment")
            .WithSummary("Takes a deployment out of rotation on every Router replica (body: optional {\"reason\": \"...\"}); requests in flight finish.");
        admin.MapDelete("/deployments/{group}/{name}/drain", UndrainAsync)
            .WithName("UndrainDeployment")
            .WithSummary("Puts a drained deployment back into rotation on every Router replica.");
        return app;
    }

    private static Task ListDeploymentsAsync(HttpContext context, RouterClient router) =>
        router.ForwardAsync(context, HttpMethod.Get, "/admin/v1/deployments", body: null, Stopwatch.GetTimestamp());

    private const int MaxDrainBodyBytes = 4 * 1024;

    private static async Task DrainAsync(HttpContext context, RouterClient router, string group, string name)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxDrainBodyBytes, context.RequestAborted);
        if (body is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge,
                $"The request body is larger than {MaxDrainBodyBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
            return;
        }
        await router.ForwardAsync(context, HttpMethod.Post, DrainPath(group, name), body.Length > 0 ? body.Memory : null, Stopwatch.GetTimestamp());
    }

    private static Task UndrainAsync(HttpContext context, RouterClient router, string group, string name) =>
        router.ForwardAsync(context, HttpMethod.Delete, DrainPath(group, name), body: null, Stopwatch.GetTimestamp());

    private static string DrainPath(string group, string name) =>
        $"/admin/v1/deployments/{Uri.EscapeDataString(group)}/{Uri.EscapeDataString(name)}/drain";
}
