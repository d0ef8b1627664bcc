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
using Microsoft.AspNetCore.Http.HttpResults;

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
        admin.MapGet("/deployments", ListDeployments)
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

    // The deployments are the Router's: their state lives there, so these relay the Router's answer as it is
    // (a DeploymentView, or its 400/404/503), rather than reading it here only to write it out again.
    private static RouterRelay ListDeployments(RouterClient router) => new(router, HttpMethod.Get, "/admin/v1/deployments");

    private const int MaxDrainBodyBytes = 4 * 1024;

    private static async Task<Results<RouterRelay, OpenAIErrorResult>> DrainAsync(HttpContext context, RouterClient router, string group, string name)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxDrainBodyBytes, context.RequestAborted);
        if (body is null)
        {
            return new OpenAIErrorResult(StatusCodes.Status413PayloadTooLarge,
                $"The request body is larger than {MaxDrainBodyBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
        }
        return new RouterRelay(router, HttpMethod.Post, DrainPath(group, name), body.Length > 0 ? body.Memory.ToArray() : null);
    }

    private static RouterRelay UndrainAsync(RouterClient router, string group, string name) => new(router, HttpMethod.Delete, DrainPath(group, name));

    private static string DrainPath(string group, string name) =>
        $"/admin/v1/deployments/{Uri.EscapeDataString(group)}/{Uri.EscapeDataString(name)}/drain";
}

/// <summary>The Router's answer to an admin call, relayed as it is (status and body), or the Api's 502/503 when the Router fails or cannot be reached.</summary>
public sealed class RouterRelay(RouterClient router, HttpMethod method, string path, ReadOnlyMemory<byte>? body = null) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => router.ForwardAsync(httpContext, method, path, body, Stopwatch.GetTimestamp());
}
