using System.Buffers;
using System.Text.Json;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Access;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Agents for clients: <c>GET /v1/agents</c> lists the agents the caller's key may run — allowed for its
/// tenant, on a model group the key and tenant may use; what a client needs to call one, not its
/// instructions or where its tools live. <c>POST /v1/agents/{name}/runs</c> runs one (JSON, or server-sent
/// events with <c>stream: true</c>), <c>GET /v1/agents/runs/{id}</c> reads a run back.
/// </summary>
public static class AgentsApi
{
    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        var agents = app.MapGroup("/v1/agents").WithTags("Agents").RequireAuthorization(AccessPolicies.Client);
        agents.MapGet("", ListAsync)
            .WithName("ListAgentsForClient")
            .WithSummary("Lists the agents this key may run.");
        agents.MapPost("/{name}/runs", RunAsync)
            .WithName("RunAgent")
            .WithSummary("Runs an agent: its model and tool steps through the pool, every step within the key's limits and budget.");
        agents.MapGet("/runs/{id}", GetRunAsync)
            .WithName("GetAgentRun")
            .WithSummary("Reads a run back: its output, steps, usage, cost and status.");
        return app;
    }

    private static async Task RunAsync(
        HttpContext context, string name, ClientIdentity client, AgentStore agents, AgentRunStore runs, AgentRunner runner, RequestLimiter limiter)
    {
        var (agent, request, thread, refusal) = await ReadRunAsync(context, name, client, agents, runs, limiter);
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        if (await runner.AdmitAsync(context, client) is not { } admitted)
        {
            return;
        }
        await using var lease = admitted;
        var response = context.Response;
        Func<AgentRunEvent, ValueTask> emit = _ => ValueTask.CompletedTask;
        if (request!.Stream)
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            emit = runEvent => WriteEventAsync(context, runEvent);
        }
        var run = await runner.RunAsync(agent!, request!.Messages, request.ThreadId, thread,
            client, lease, context.TraceIdentifier, emit, context.RequestAborted);
        await lease.SettleAsync(0, 0);
        if (!request.Stream && !context.RequestAborted.IsCancellationRequested)
        {
            // A stopped run answered what it could: 200 with its status; a failed one could not: 502, the run saying why.
            response.StatusCode = run.Status == AgentRunStatuses.Failed ? StatusCodes.Status502BadGateway : StatusCodes.Status200OK;
            await response.WriteAsJsonAsync(run, AgentRun.Json, context.RequestAborted);
        }
    }

    /// <summary>The run asked for, before it is admitted: the agent (one the key may run), the body, and the thread it goes on; or why it is refused.</summary>
    private static async Task<(AgentDefinition? Agent, AgentRunRequest? Request, AgentThread? Thread, OpenAIErrorResult? Refusal)> ReadRunAsync(
        HttpContext context, string name, ClientIdentity client, AgentStore agents, AgentRunStore runs, RequestLimiter limiter)
    {
        if (await agents.GetAsync(name) is not { } agent || !client.MayRun(agent))
        {
            // Not 403 for an agent of another tenant: its existence is not the caller's to know.
            return Refused(new(StatusCodes.Status404NotFound, $"There is no agent '{name}' this key may run.", OpenAIError.InvalidRequest, "agent_not_found"));
        }
        if (limiter.RefusedBeforeBody(client) is { } throttled)
        {
            return Refused(throttled);
        }
        var (request, problem) = await AgentRunRequest.ReadAsync(context);
        if (request is null)
        {
            return Refused(problem is null
                ? new(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit of {AgentRunRequest.MaxBodyBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large")
                : OpenAIErrorResult.BadRequest(problem, "invalid_run"));
        }
        if (agent.RefusesInstructionsIn(request.Messages) is { } refusal)
        {
            return Refused(OpenAIErrorResult.BadRequest(refusal, "client_instructions_not_allowed", "messages"));
        }
        if (request.ThreadId is not { } threadId)
        {
            return (agent, request, null, null);
        }
        var thread = await runs.GetThreadAsync(threadId);
        if (thread is null || (client.Tenant is not null && thread.TenantId != client.Tenant.Id))
        {
            return Refused(new(StatusCodes.Status404NotFound,
                $"There is no thread '{threadId}' (threads are kept for a while after their last run, then forgotten).", OpenAIError.InvalidRequest, "thread_not_found", "threadId"));
        }
        if (thread.Agent != agent.Name)
        {
            return Refused(OpenAIErrorResult.BadRequest(
                $"Thread '{threadId}' is a conversation with agent '{thread.Agent}', not '{agent.Name}'.", "thread_of_other_agent", "threadId"));
        }
        return (agent, request, thread, null);

        static (AgentDefinition?, AgentRunRequest?, AgentThread?, OpenAIErrorResult?) Refused(OpenAIErrorResult refusal) => (null, null, null, refusal);
    }

    private static async ValueTask WriteEventAsync(HttpContext context, AgentRunEvent runEvent)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        var writer = context.Response.BodyWriter;
        try
        {
            writer.Write("event: "u8);
            writer.Write(System.Text.Encoding.UTF8.GetBytes(runEvent.Type));
            writer.Write("\ndata: "u8);
            using (var json = new Utf8JsonWriter(writer))
            {
                JsonSerializer.Serialize(json, runEvent.Data, runEvent.Data.GetType(), AgentRun.Json);
            }
            writer.Write("\n\n"u8);
            await writer.FlushAsync(context.RequestAborted);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // The client left: the run ends through its cancellation, and is recorded as such.
        }
    }

    private static async Task GetRunAsync(HttpContext context, string id, ClientIdentity client, AgentRunStore runs)
    {
        var run = await runs.GetRunAsync(id);
        if (run is null || (client.Tenant is not null && run.TenantId != client.Tenant.Id))
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
                $"There is no run '{id}' (runs are kept for a while, then forgotten).", OpenAIError.InvalidRequest, "run_not_found");
            return;
        }
        await context.Response.WriteAsJsonAsync(run, AgentRun.Json, context.RequestAborted);
    }

    private static async Task ListAsync(HttpContext context, ClientIdentity client, AgentStore store)
    {
        var agents = (await store.ListAsync()).Where(agent => client.MayRun(agent));
        await context.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = agents.Select(agent => new
            {
                id = agent.Name,
                @object = "agent",
                description = agent.Description,
                model = agent.Model,
                version = agent.Version,
                tools = agent.Tools.SelectMany(t => t.AllowedTools).Distinct(StringComparer.Ordinal),
                maxSteps = agent.MaxSteps,
                maxTokens = agent.MaxTokens,
                maxCostUsd = agent.MaxCostUsd,
                updatedAt = agent.UpdatedAt,
            }),
        }, AgentDefinition.Json, context.RequestAborted);
    }

    /// <summary>Whether the client may run the agent: its tenant is allowed (the master key, tenantless, is), and so is the model group.</summary>
    public static bool MayRun(this ClientIdentity client, AgentDefinition agent) =>
        (client.Tenant is null || agent.AllowsTenant(client.Tenant.Id)) && client.AllowsModel(agent.Model);
}
