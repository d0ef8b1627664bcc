using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgentPlatform.Router.Admin;

/// <summary>
/// The live state of every deployment as this Router replica sees it, for the Api's
/// <c>GET /admin/v1/deployments</c>. Breaker states agree across replicas (shared through Redis);
/// requests in flight, latency and error rate are this replica's. Never a provider key.
/// </summary>
public static class DeploymentsAdminApi
{
    public static IEndpointRouteBuilder MapDeploymentsAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/v1/deployments", ListDeployments)
            .WithTags("Admin")
            .WithName("ListDeployments")
            .WithSummary("Every deployment of every model group with its live state.");
        app.MapPost("/admin/v1/deployments/{group}/{name}/drain", DrainAsync)
            .WithTags("Admin")
            .WithName("DrainDeployment")
            .WithSummary("Takes a deployment out of rotation on every Router replica; requests in flight finish.");
        app.MapDelete("/admin/v1/deployments/{group}/{name}/drain", UndrainAsync)
            .WithTags("Admin")
            .WithName("UndrainDeployment")
            .WithSummary("Puts a drained deployment back into rotation on every Router replica.");
        return app;
    }

    private const int MaxReasonLength = 500;

    private static async Task<Results<Ok<DeploymentView>, OpenAIErrorResult>> DrainAsync(
        HttpContext context, string group, string name, ModelPool pool, DeploymentDrains drains, TimeProvider timeProvider)
    {
        DrainRequest? body = null;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                body = await context.Request.ReadFromJsonAsync<DrainRequest>(context.RequestAborted);
            }
            catch (System.Text.Json.JsonException)
            {
                return OpenAIErrorResult.BadRequest("The body must be JSON: {\"reason\": \"...\"}, or empty.", "invalid_json");
            }
        }
        var reason = string.IsNullOrWhiteSpace(body?.Reason) ? null : body.Reason.Trim();
        if (reason is { Length: > MaxReasonLength })
        {
            return OpenAIErrorResult.BadRequest($"The reason may be at most {MaxReasonLength} characters.", "invalid_value", "reason");
        }
        return await ChangeAsync(group, name, pool, timeProvider, deployment => drains.DrainAsync(deployment, new DrainNote(timeProvider.GetUtcNow(), reason)));
    }

    private static Task<Results<Ok<DeploymentView>, OpenAIErrorResult>> UndrainAsync(string group, string name, ModelPool pool, DeploymentDrains drains, TimeProvider timeProvider) =>
        ChangeAsync(group, name, pool, timeProvider, drains.UndrainAsync);

    private static async Task<Results<Ok<DeploymentView>, OpenAIErrorResult>> ChangeAsync(
        string group, string name, ModelPool pool, TimeProvider timeProvider, Func<Deployment, Task> change)
    {
        if (!pool.TryGetGroup(group, out var modelGroup) || modelGroup.Deployments.FirstOrDefault(d => d.Name == name) is not { } deployment)
        {
            return OpenAIErrorResult.NotFound($"No deployment '{name}' in model group '{group}'.", "deployment_not_found");
        }
        try
        {
            await change(deployment);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // A drain must hold on every replica or be reported as not made: the caller can try again.
            return OpenAIErrorResult.Unavailable(
                "Redis is unreachable, so the change could not be shared with every Router replica; try again.", "redis_unavailable");
        }
        return TypedResults.Ok(Describe(modelGroup, deployment, timeProvider.GetUtcNow()));
    }

    private static Ok<ListOf<DeploymentView>> ListDeployments(ModelPool pool, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        return TypedResults.Ok(ListOf.Of(pool.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).SelectMany(group => group.Deployments.Select(d => Describe(group, d, now)))));
    }

    private static DeploymentView Describe(ModelGroup group, Deployment deployment, DateTimeOffset now)
    {
        var (attempts, errorRate) = deployment.State.RecentOutcomes();
        var (requestsLeft, tokensLeft) = deployment.Headroom(now.ToUnixTimeMilliseconds());
        var breaker = deployment.Breaker;
        var coolDownUntil = new DateTimeOffset(deployment.State.CoolDownUntilTicks, TimeSpan.Zero);
        return new DeploymentView(
            group.Name, group.Strategy.Name, deployment.Name, deployment.Provider, deployment.Model, deployment.Priority, deployment.Weight,
            Available: deployment.IsAvailable(now.UtcTicks),
            Drained: deployment.Drain is { } drain ? new DrainView(drain.At, drain.Reason) : null,
            Breaker: new BreakerView(
                breaker.State switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" },
                breaker.State == CircuitState.Open ? breaker.OpenUntil : null,
                breaker.Breaks),
            CoolingDownUntil: coolDownUntil > now ? coolDownUntil : null,
            InFlight: deployment.State.InFlight,
            LatencyEwmaMs: Math.Round(deployment.State.LatencyEwmaMs, 3),
            AttemptsLastMinute: attempts,
            ErrorRateLastMinute: Math.Round(errorRate, 4),
            LastError: deployment.State.LatestError is { } error ? new LastErrorView(error.Message, error.At) : null,
            Capacity: new CapacityView(
                deployment.Rpm, deployment.Rpm - requestsLeft is { } rpmUsed ? Math.Round(rpmUsed, 1) : null,
                deployment.Tpm, deployment.Tpm - tokensLeft is { } tpmUsed ? Math.Round(tpmUsed) : null),
            Prices: new PricesView(deployment.InputPricePerMillion, deployment.CachedInputPricePerMillion, deployment.OutputPricePerMillion, deployment.CacheWriteInputPricePerMillion));
    }
}
