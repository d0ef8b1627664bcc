using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.ServiceDefaults.Telemetry;
using AgentPlatform.Tokens;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>A safeguard stopped the run before its next model step.</summary>
internal sealed class AgentRunStoppedException(string reason, string message) : Exception(message)
{
    public string Reason => reason;
}

/// <summary>
/// One run in progress: the safeguards every model step passes (the run's own maxima, then the key's
/// and tenant's tokens and budgets, reserved for the step's worst case and settled to what it used),
/// the step's usage record and span, and the run's document and events as it goes.
/// </summary>
internal sealed class RunContext(
    AgentRun run, AgentDefinition agent, ClientIdentity client, RequestLease lease, Func<AgentRunEvent, ValueTask> emit, RunServices services)
{
    public static readonly ActivitySource Source = new(PlatformTelemetry.Api);

    private readonly RunGuard _guard = new(agent);
    private readonly StringBuilder _output = new();

    public AgentRun Run => run;

    /// <summary>What the Router said of the current step's answer (steps run one at a time).</summary>
    public StepAnswer Answer { get; } = new();

    public ValueTask EmitAsync(string type, object data) => emit(new AgentRunEvent(type, data));

    /// <summary>Checks and reserves a model step; throws <see cref="AgentRunStoppedException"/> when a safeguard refuses it.</summary>
    public async Task<ModelStep> BeginStepAsync(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        var prompt = EstimatePrompt(messages, options);
        // A step may write only what is left of the run's tokens: the model is told so (max_tokens), and the reservation is exact.
        var sizing = await services.Meter.SizeAsync(agent.Model, prompt, requestedOutput: 0, choices: 1,
            outputCap: agent.MaxTokens - _guard.Tokens - prompt,
            client.HasBudget || agent.MaxCostUsd is not null ? Pricing.Required : Pricing.IfKnown, cancellationToken);
        if (sizing is not { } size)
        {
            throw new AgentRunStoppedException(UsageMeter.BudgetUnavailable.Code!, UsageMeter.BudgetUnavailable.Message);
        }
        var (output, worstCost) = (size.OutputTokens, size.WorstCostUsd);
        if ((output <= 0 ? RunStopReasons.MaxTokens : _guard.BeforeStep(prompt + output, worstCost)) is { } reason)
        {
            throw new AgentRunStoppedException(reason, reason switch
            {
                RunStopReasons.MaxSteps => $"The run reached the agent's maximum of {agent.MaxSteps} model steps.",
                RunStopReasons.MaxTokens => $"The next step could take the run past the agent's maximum of {agent.MaxTokens} tokens ({_guard.Tokens} used, about {prompt} more to send).",
                _ => $"The next step could take the run past the agent's maximum cost of ${agent.MaxCostUsd} (${_guard.CostUsd:0.######} spent, up to ${worstCost:0.######} more).",
            });
        }
        var reservation = await services.Limiter.ReserveStepAsync(client, lease, size.Demand);
        if (reservation.Lease is not { } stepLease)
        {
            throw new AgentRunStoppedException(reservation.StopReason!, reservation.Refusal!.Message);
        }

        var index = run.Steps.Count;
        var activity = Source.StartActivity($"chat {agent.Model}", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "chat");
        activity?.SetTag("gen_ai.request.model", agent.Model);
        activity?.SetTag("agentplatform.agent.step", _guard.Steps + 1);
        var stepOptions = options?.Clone() ?? new ChatOptions();
        stepOptions.MaxOutputTokens = (int)Math.Min(output, int.MaxValue);
        Answer.Clear();
        services.Meter.Metrics.Started();
        return new ModelStep(index, _guard.Steps + 1, prompt, stepOptions, stepLease, activity, Stopwatch.GetTimestamp(), services.Time.GetUtcNow());
    }

    /// <summary>
    /// Ends a model step: what it used (as the provider reported, else estimated) is settled against the
    /// limits, counted against the run's maxima, recorded in the ledger and the run, and announced.
    /// </summary>
    public async Task EndStepAsync(ModelStep step, string text, List<AgentToolCall> toolCalls, UsageDetails? usage, Exception? failure, bool aborted)
    {
        var answered = Answer.Deployment is not null;
        var record = Measure(step, text, usage, answered);
        await UsageMeter.SettleAsync(step.Lease, record);
        var (prompt, completion, cost) = (record.PromptTokens, record.CompletionTokens, record.CostUsd);
        _guard.AfterStep(prompt + completion, cost);

        var latency = Math.Round(Stopwatch.GetElapsedTime(step.Started).TotalMilliseconds, 3);
        run.Steps.Add(new AgentRunStep
        {
            Index = step.Index,
            Type = AgentRunStep.ModelType,
            Model = agent.Model,
            Deployment = Answer.Deployment,
            PromptTokens = prompt,
            CompletionTokens = completion,
            CostUsd = cost,
            Text = text.Length > 0 ? text : null,
            ToolCalls = toolCalls.Count > 0 ? toolCalls : null,
            LatencyMs = latency,
            Error = failure?.Message,
        });
        run.Usage.PromptTokens += prompt;
        run.Usage.CompletionTokens += completion;
        run.CostUsd += cost;
        _output.Append(text);
        run.Output = _output.ToString();

        record.LatencyMs = latency;
        record.Status = failure is null ? StatusCodes.Status200OK : aborted ? 499 : StatusCodes.Status502BadGateway;
        record.Outcome = failure is null ? UsageOutcomes.Success : aborted ? UsageOutcomes.ClientAborted : answered ? UsageOutcomes.Interrupted : UsageOutcomes.Error;
        record.Stream = true;
        record.Step = step.Number;
        await services.Meter.RecordAsync(record, knownModel: true);

        EndSpan(step.Activity, record, failure);
        await EmitAsync(AgentRunEvent.StepFinished, new
        {
            index = step.Index,
            step = step.Number,
            type = AgentRunStep.ModelType,
            deployment = Answer.Deployment,
            promptTokens = prompt,
            completionTokens = completion,
            costUsd = cost,
            latencyMs = latency,
        });
    }

    /// <summary>A model step's usage record, priced: its tokens as the pool reported them, or counted from what reached the run.</summary>
    private UsageRecord Measure(ModelStep step, string text, UsageDetails? usage, bool answered)
    {
        var record = run.NewRecord(step.Activity, step.Time, agent.Model);
        record.Deployment = Answer.Deployment;
        if (usage is { InputTokenCount: { } input })
        {
            (record.PromptTokens, record.CompletionTokens, record.CachedTokens) = (input, usage.OutputTokenCount ?? 0, usage.CachedInputTokenCount ?? 0);
        }
        else if (answered)
        {
            // The stream broke, or the client left, before the usage arrived: what reached us is counted.
            (record.PromptTokens, record.CompletionTokens, record.Estimated) = (step.PromptEstimate, services.Estimator.For(agent.Model).CountTokens(text), true);
        }
        UsageMeter.Price(record, Answer.Prices);
        return record;
    }

    /// <summary>Ends a model step's span with its tokens, deployment and cost.</summary>
    private static void EndSpan(Activity? activity, UsageRecord record, Exception? failure)
    {
        if (activity is null)
        {
            return;
        }
        activity.SetTag("gen_ai.usage.input_tokens", record.PromptTokens);
        activity.SetTag("gen_ai.usage.output_tokens", record.CompletionTokens);
        activity.SetTag("agentplatform.deployment", record.Deployment);
        activity.SetTag("agentplatform.cost_usd", (double)record.CostUsd);
        if (failure is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Message);
        }
        activity.Dispose();
    }

    /// <summary>
    /// A tool call the model asked for: refused (and the run stopped) when it is one identical call too
    /// many; else made, with its result — or its error, as a result — going back to the model.
    /// </summary>
    public async Task<string> CallToolAsync(AgentToolFunction tool, string callId, string arguments, IReadOnlyDictionary<string, object?> values, CancellationToken cancellationToken)
    {
        if (_guard.OnToolCall(tool.Name, arguments) is { } reason)
        {
            run.StopReason = reason;
            run.Error = $"The model called '{tool.Name}' with the same arguments {RunGuard.DefaultIdenticalToolCallLimit} times; the run stopped rather than pay for a loop.";
            // Ends the model/tool loop after this round: no further model step is made.
            FunctionInvokingChatClient.CurrentContext?.Terminate = true;
            return "Stopped: this call repeats an earlier one exactly.";
        }
        var index = run.Steps.Count;
        await EmitAsync(AgentRunEvent.ToolCall, new { index, callId, name = tool.Name, arguments });
        // The call's span ("execute_tool {name}", GenAI attributes) is the tool loop's own (FunctionInvokingChatClient's).
        var started = Stopwatch.GetTimestamp();
        var result = await tool.CallAsync(values, cancellationToken);
        if (result.IsError)
        {
            // Not the tool's words: a tool's output is the tenant's data, and may hold what its server should not have said.
            Activity.Current?.SetStatus(ActivityStatusCode.Error, "The tool answered with an error.");
        }
        var latency = Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);
        run.Steps.Add(new AgentRunStep
        {
            Index = index,
            Type = AgentRunStep.ToolType,
            Tool = tool.Name,
            CallId = callId,
            Arguments = arguments,
            Result = result.Text,
            IsError = result.IsError,
            LatencyMs = latency,
        });
        await EmitAsync(AgentRunEvent.ToolResult, new { index, callId, name = tool.Name, result = result.Text, isError = result.IsError, latencyMs = latency });
        return result.IsError ? "Error: " + result.Text : result.Text;
    }

    /// <summary>The step's prompt in tokens, by the group's tokenizer: every message's text, tool calls and results, the instructions and the tools' schemas.</summary>
    private long EstimatePrompt(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var tokenizer = services.Estimator.For(agent.Model);
        long tokens = options?.Instructions is { } instructions ? tokenizer.CountTokens(instructions) : 0;
        foreach (var message in messages)
        {
            tokens += 4; // the role and separators of a message
            foreach (var content in message.Contents)
            {
                tokens += content switch
                {
                    TextContent text => tokenizer.CountTokens(text.Text),
                    FunctionCallContent call => tokenizer.CountTokens(call.Name) + tokenizer.CountTokens(JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions)),
                    FunctionResultContent result => tokenizer.CountTokens(result.Result?.ToString() ?? ""),
                    _ => 0,
                };
            }
        }
        foreach (var tool in options?.Tools ?? [])
        {
            tokens += tokenizer.CountTokens(tool.Name) + (tool is AIFunctionDeclaration function ? tokenizer.CountTokens(function.JsonSchema.GetRawText()) : 0);
        }
        return tokens;
    }
}

/// <summary>A model step under way.</summary>
internal sealed record ModelStep(
    int Index, int Number, long PromptEstimate, ChatOptions Options, RequestLease Lease, Activity? Activity, long Started, DateTimeOffset Time);

/// <summary>The Api's services a run uses, gathered so a run's parts take one argument.</summary>
internal sealed record RunServices(RequestLimiter Limiter, UsageMeter Meter, PromptTokenEstimator Estimator, TimeProvider Time);
