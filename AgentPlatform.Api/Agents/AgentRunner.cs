using System.ClientModel;
using System.Diagnostics;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Telemetry;
using AgentPlatform.Tokens;
using Microsoft.Agents.AI;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Runs agents: the Microsoft Agent Framework's <see cref="ChatClientAgent"/> (instructions, tools and the
/// model/tool loop) over the model pool, each model step metered by <see cref="MeteredStepClient"/>, each
/// tool an allowed tool of the agent's MCP servers.
/// </summary>
/// <remarks>
/// The loop runs in the Api rather than the Router: a step's safeguards (the key's and tenant's limits
/// and budgets, reserved and settled in Redis) and its usage record are the Api's, and every model step
/// still goes through the Router's pool — routed, retried, failed over and broken like any call — over
/// the same internal hop a plain chat completion takes.
/// </remarks>
public sealed class AgentRunner(
    AgentRunStore store, RequestLimiter limiter, PromptTokenEstimator estimator, UsageLedger ledger, UsageMeter meter,
    IHttpClientFactory httpClientFactory, IOptions<ApiOptions> apiOptions, ILoggerFactory loggerFactory, TimeProvider timeProvider)
{
    public const string McpHttpClientName = "mcp";

    private readonly RunServices _services = new(limiter, meter, estimator, timeProvider);
    private readonly ILogger _logger = loggerFactory.CreateLogger<AgentRunner>();

    /// <summary>
    /// Takes a run out of the client's limits: one request for the requests per minute and one concurrent
    /// request, whatever its steps (which reserve tokens and budget one by one). Null, with the refusal
    /// answered, when a limit refuses it.
    /// </summary>
    public async ValueTask<RequestLease?> AdmitAsync(HttpContext context, ClientIdentity client)
    {
        var (lease, refusal) = await limiter.AcquireAsync(client, default, context.Response.Headers);
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
        }
        return lease;
    }

    /// <summary>
    /// Runs <paramref name="agent"/> on <paramref name="input"/>, continuing <paramref name="thread"/> when given,
    /// and returns the run however it ended (its status says how). Events go to <paramref name="emit"/> as the run goes.
    /// </summary>
    /// <param name="threadId">The thread to save the conversation under: <paramref name="thread"/>'s, or null for a new one.</param>
    /// <param name="lease">The run's own place in the client's limits: the one request it counts as.</param>
    public async Task<AgentRun> RunAsync(
        AgentDefinition agent, IReadOnlyList<ChatMessage> input, string? threadId, AgentThread? thread, ClientIdentity client, RequestLease lease,
        string requestId, Func<AgentRunEvent, ValueTask> emit, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        threadId ??= "thread_" + Guid.CreateVersion7().ToString("N");
        var run = NewRun(agent, threadId, requestId, client);
        using var activity = StartActivity(agent, run);
        var context = new RunContext(run, agent, client, lease, emit, _services);
        ChatClientAgent? runner = null;
        AgentSession? session = null;
        await emit(new AgentRunEvent(AgentRunEvent.RunStarted, run));
        try
        {
            await using var toolbox = await McpToolbox.ConnectAsync(agent, httpClientFactory.CreateClient(McpHttpClientName), loggerFactory, cancellationToken);
            runner = CreateRunner(agent, toolbox, context, requestId, client);
            session = thread is null
                ? await runner.CreateSessionAsync(cancellationToken)
                : await runner.DeserializeSessionAsync(thread.Session, cancellationToken: cancellationToken);
            await foreach (var _ in runner.RunStreamingAsync(input, session, cancellationToken: cancellationToken))
            {
                // The steps announce themselves (text deltas, tool calls and results) as they happen.
            }
            run.Status = run.StopReason is null ? AgentRunStatuses.Completed : AgentRunStatuses.Stopped;
        }
        catch (Exception exception) when (Ending(exception, cancellationToken) is { } ending)
        {
            (run.Status, run.Error) = (ending.Status, ending.Error);
            run.StopReason = ending.StopReason ?? run.StopReason;
        }
        finally
        {
            run.LatencyMs = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
            if (run.Status == AgentRunStatuses.Running)
            {
                // An exception nobody expected: the run is recorded as failed, and the exception goes on.
                (run.Status, run.Error) = (AgentRunStatuses.Failed, "The run failed inside the gateway; see its logs under the request id.");
            }
            activity?.SetTag("agentplatform.agent.status", run.Status);
            activity?.SetTag("gen_ai.usage.input_tokens", run.Usage.PromptTokens);
            activity?.SetTag("gen_ai.usage.output_tokens", run.Usage.CompletionTokens);
            activity?.SetTag("agentplatform.cost_usd", (double)run.CostUsd);
            if (runner is not null && session is not null)
            {
                // Also after a stop or a failure: the thread goes on from what the session holds (a run cut
                // short mid-step leaves it as it was before the run), and the run's threadId stays valid.
                await SaveThreadAsync(runner, session, new AgentThread(client.Tenant?.Id, agent.Name, default), threadId, run.Id);
            }
            await FinishAsync(run, agent);
        }
        await emit(new AgentRunEvent(run.Status == AgentRunStatuses.Completed ? AgentRunEvent.RunCompleted : AgentRunEvent.RunFailed, run));
        return run;
    }

    private AgentRun NewRun(AgentDefinition agent, string threadId, string requestId, ClientIdentity client) => new()
    {
        Agent = agent.Name,
        AgentVersion = agent.Version,
        ThreadId = threadId,
        RequestId = requestId,
        TenantId = client.Tenant?.Id,
        KeyId = client.Key?.Id,
        CreatedAt = timeProvider.GetUtcNow(),
    };

    /// <summary>The run's span, with OpenTelemetry's GenAI agent attributes.</summary>
    private static Activity? StartActivity(AgentDefinition agent, AgentRun run)
    {
        var activity = RunContext.Source.StartActivity($"invoke_agent {agent.Name}");
        activity?.SetTag("gen_ai.operation.name", "invoke_agent");
        activity?.SetTag("gen_ai.agent.name", agent.Name);
        activity?.SetTag("gen_ai.agent.id", run.Id);
        activity?.SetTag("gen_ai.conversation.id", run.ThreadId);
        return activity;
    }

    /// <summary>The agent on the model pool: each model call a metered step, each MCP tool a function it may call.</summary>
    private ChatClientAgent CreateRunner(AgentDefinition agent, McpToolbox toolbox, RunContext context, string requestId, ClientIdentity client)
    {
        var pool = PoolChatClient.Create(httpClientFactory.CreateClient(RouterClient.HttpClientName), agent.Model, requestId, client.RouterClientId, context.Answer,
            TimeSpan.FromSeconds(apiOptions.Value.RouterTimeoutSeconds));
        return new ChatClientAgent(new MeteredStepClient(pool, context), new ChatClientAgentOptions
        {
            Name = agent.Name,
            Description = agent.Description,
            ChatOptions = new ChatOptions
            {
                Instructions = agent.Instructions,
                Temperature = (float?)agent.Temperature,
                Tools = [.. toolbox.Tools.Values.Select(tool => new McpToolFunction(tool, context))],
            },
        }, loggerFactory);
    }

    /// <summary>How an exception ends a run (its status, stop reason and error); null for one nobody expected.</summary>
    private (string Status, string? StopReason, string Error)? Ending(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        AgentRunStoppedException stopped => (AgentRunStatuses.Stopped, stopped.Reason, stopped.Message),
        McpToolboxException => (AgentRunStatuses.Failed, null, exception.Message),
        ClientResultException result => (AgentRunStatuses.Failed, null, $"The model pool could not answer a step (HTTP {result.Status}): {PoolError(result)}"),
        HttpRequestException => (AgentRunStatuses.Failed, null, $"The model pool could not be reached: {exception.Message}"),
        OperationCanceledException when cancellationToken.IsCancellationRequested => (AgentRunStatuses.Failed, null, "The client went away before the run ended."),
        // Not the client: the SDK's network timeout (the Api's RouterTimeoutSeconds) ran out on a step.
        OperationCanceledException => (AgentRunStatuses.Failed, null, $"The model pool did not answer a step within {apiOptions.Value.RouterTimeoutSeconds} s."),
        _ => null,
    };

    private async Task SaveThreadAsync(ChatClientAgent runner, AgentSession session, AgentThread thread, string threadId, string runId)
    {
        try
        {
            var saved = await runner.SerializeSessionAsync(session);
            await store.SaveThreadAsync(threadId, thread with { Session = saved });
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // The run stands; only continuing its conversation is lost.
            Log.AgentThreadNotSaved(_logger, threadId, runId, exception);
        }
    }

    /// <summary>Keeps the run readable and writes its summary record (no tokens or cost of its own: its steps' records carry them).</summary>
    private async Task FinishAsync(AgentRun run, AgentDefinition agent)
    {
        if (run.Status == AgentRunStatuses.Failed)
        {
            Log.AgentRunFailed(_logger, agent.Name, run.Id, LogText.Safe(run.Error));
        }
        meter.Metrics.AgentRunEnded(agent.Name, run.Status, run.StopReason);
        var summary = run.NewRecord(Activity.Current, run.CreatedAt, agent.Model);
        summary.LatencyMs = run.LatencyMs;
        summary.Status = run.Status == AgentRunStatuses.Failed ? StatusCodes.Status502BadGateway : StatusCodes.Status200OK;
        summary.Outcome = run.Status switch
        {
            AgentRunStatuses.Completed => UsageOutcomes.Success,
            AgentRunStatuses.Stopped => UsageOutcomes.Stopped,
            _ => UsageOutcomes.Error,
        };
        summary.Run = new AgentRunTotals(agent.Version, run.Status, run.StopReason, run.Steps.Count(s => s.Type == AgentRunStep.ModelType),
            run.Steps.Count(s => s.Type == AgentRunStep.ToolType), run.Usage.PromptTokens, run.Usage.CompletionTokens, run.CostUsd);
        await ledger.RecordAsync(summary);
        try
        {
            await store.SaveRunAsync(run);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // The client still gets the run in the answer; only reading it back later is lost.
            Log.AgentRunNotSaved(_logger, run.Id, exception);
        }
    }

    /// <summary>The OpenAI-shaped error's message from the pool's answer, else the SDK's words.</summary>
    private static string PoolError(ClientResultException exception)
    {
        try
        {
            if (exception.GetRawResponse()?.Content is { } content
                && System.Text.Json.JsonDocument.Parse(content.ToMemory()).RootElement.TryGetProperty("error", out var error)
                && error.TryGetProperty("message", out var message))
            {
                return message.GetString() ?? exception.Message;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return exception.Message;
    }
}
