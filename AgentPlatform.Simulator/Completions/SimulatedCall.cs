using System.Buffers;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Simulator.Faults;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Completions;

/// <summary>What every simulated provider surface shares: faults, pacing, counting, JSON or stream.</summary>
public sealed class SimulatedCall(FaultInjector faults, SimulatorStats stats, IOptionsMonitor<SimulatorOptions> options, TimeProvider timeProvider)
{
    /// <summary>
    /// Answers one request in <paramref name="wire"/>'s format: reads the body, lets
    /// <paramref name="generate"/> decide the answer, injects a fault if one hits, and writes the
    /// answer as JSON or as a stream at the configured pace.
    /// </summary>
    public async Task AnswerAsync(HttpContext context, ICompletionWire wire, Func<ReadOnlyMemory<byte>, (SimulatedCompletion? Completion, string? Error)> generate)
    {
        var abort = context.RequestAborted;
        var body = new ArrayBufferWriter<byte>(1024);
        await foreach (var segment in ReadBodyAsync(context.Request.BodyReader, abort))
        {
            body.Write(segment.Span);
        }

        var (completion, error) = generate(body.WrittenMemory);
        stats.RequestStarted(completion?.Stream ?? false, timeProvider.GetUtcNow());
        var completed = false;
        try
        {
            var fault = faults.Roll(body.WrittenSpan);
            if (await EndedByFaultAsync(context, wire, fault))
            {
                return;
            }

            if (completion is null)
            {
                await wire.WriteErrorAsync(context, StatusCodes.Status400BadRequest, error!, OpenAIError.InvalidRequest);
                return;
            }

            var current = options.CurrentValue;
            var stall = TimeSpan.FromMilliseconds(fault?.DelayMs ?? current.StallMs);
            var stallFirst = fault?.Kind == FaultKinds.StallFirst ? stall : TimeSpan.Zero;
            var stallMid = fault?.Kind == FaultKinds.StallMid ? stall : TimeSpan.Zero;
            var timing = new Timing(
                TimeSpan.FromMilliseconds(current.TimeToFirstTokenMs), TimeSpan.FromMilliseconds(current.TokenIntervalMs), stallFirst, stallMid,
                fault?.Kind == FaultKinds.ResetMid, timeProvider);

            if (completion.Stream)
            {
                await StreamAsync(context, wire, completion, timing, abort);
            }
            else
            {
                await WriteJsonAsync(context, wire, completion, timing, abort);
            }
            // reset-mid aborts the connection, which cancels RequestAborted: not a completed answer.
            completed = !abort.IsCancellationRequested;
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        finally
        {
            stats.RequestEnded(completed, completion?.PromptTokens ?? 0, completion?.CompletionTokens ?? 0);
        }
    }

    /// <summary>
    /// Embeddings in OpenAI's format: <paramref name="embed"/> writes the answer (or says what is wrong
    /// with the request); the faults that end an answer before it starts apply as to a completion.
    /// </summary>
    public async Task AnswerEmbeddingsAsync(HttpContext context, Func<ReadOnlyMemory<byte>, IBufferWriter<byte>, (int PromptTokens, string? Error)> embed)
    {
        var abort = context.RequestAborted;
        var body = new ArrayBufferWriter<byte>(1024);
        await foreach (var segment in ReadBodyAsync(context.Request.BodyReader, abort))
        {
            body.Write(segment.Span);
        }
        var json = new ArrayBufferWriter<byte>(4096);
        var (promptTokens, error) = embed(body.WrittenMemory, json);
        stats.RequestStarted(stream: false, timeProvider.GetUtcNow());
        var completed = false;
        try
        {
            if (await EndedByFaultAsync(context, OpenAIWire.Instance, faults.Roll(body.WrittenSpan)))
            {
                return;
            }
            if (error is not null)
            {
                await OpenAIWire.Instance.WriteErrorAsync(context, StatusCodes.Status400BadRequest, error, OpenAIError.InvalidRequest);
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(options.CurrentValue.TimeToFirstTokenMs), timeProvider, abort);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = json.WrittenCount;
            await context.Response.Body.WriteAsync(json.WrittenMemory, abort);
            completed = true;
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        finally
        {
            stats.RequestEnded(completed, completed ? promptTokens : 0, 0);
        }
    }

    /// <summary>Answers with the fault that ends a call before its answer starts, if <paramref name="fault"/> is one; whether it did.</summary>
    private async Task<bool> EndedByFaultAsync(HttpContext context, ICompletionWire wire, FaultSpec? fault)
    {
        if (fault is null)
        {
            return false;
        }
        stats.FaultInjected(fault.Kind);
        var abort = context.RequestAborted;
        switch (fault.Kind)
        {
            case FaultKinds.ServerError:
                if (fault.DelayMs is > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(fault.DelayMs.Value), timeProvider, abort);
                }
                await wire.WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "The simulator injected a server error.", OpenAIError.Server, "simulated_fault");
                return true;
            case FaultKinds.RateLimited:
                if (fault.RetryAfterSeconds is not 0)
                {
                    context.Response.Headers.RetryAfter = (fault.RetryAfterSeconds ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                await wire.WriteErrorAsync(context, StatusCodes.Status429TooManyRequests, "The simulator injected a rate limit.", OpenAIError.RateLimit, "rate_limit_exceeded");
                return true;
            case FaultKinds.Timeout:
                await Task.Delay(Timeout.InfiniteTimeSpan, timeProvider, abort);
                return true;
            case FaultKinds.Reset:
                context.Abort();
                return true;
            default:
                return false;
        }
    }

    private readonly record struct Timing(TimeSpan FirstToken, TimeSpan Interval, TimeSpan StallFirst, TimeSpan StallMid, bool ResetMid, TimeProvider Clock)
    {
        public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
            delay > TimeSpan.Zero ? Task.Delay(delay, Clock, cancellationToken) : Task.CompletedTask;
    }

    private static async Task WriteJsonAsync(HttpContext context, ICompletionWire wire, SimulatedCompletion completion, Timing timing, CancellationToken abort)
    {
        var json = new ArrayBufferWriter<byte>(512);
        wire.WriteJson(json, completion);

        var response = context.Response;
        response.ContentType = "application/json";
        response.ContentLength = json.WrittenCount;
        if (timing.StallFirst > TimeSpan.Zero)
        {
            // StartAsync alone does not put the headers on the wire; the flush does.
            await response.StartAsync(abort);
            await response.Body.FlushAsync(abort);
            await timing.DelayAsync(timing.StallFirst, abort);
        }
        // A JSON answer takes as long as the stream would have.
        await timing.DelayAsync(timing.FirstToken + timing.Interval * Math.Max(0, completion.CompletionTokens - 1), abort);

        var bytes = json.WrittenMemory;
        if (timing.StallMid > TimeSpan.Zero || timing.ResetMid)
        {
            var half = bytes.Length / 2;
            await response.Body.WriteAsync(bytes[..half], abort);
            await response.Body.FlushAsync(abort);
            if (timing.ResetMid)
            {
                await ResetAsync(context, timing);
                return;
            }
            await timing.DelayAsync(timing.StallMid, abort);
            bytes = bytes[half..];
        }
        await response.Body.WriteAsync(bytes, abort);
    }

    private static async Task StreamAsync(HttpContext context, ICompletionWire wire, SimulatedCompletion completion, Timing timing, CancellationToken abort)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        var output = response.BodyWriter;
        await response.StartAsync(abort);
        await output.FlushAsync(abort);
        await timing.DelayAsync(timing.StallFirst, abort);

        await timing.DelayAsync(timing.FirstToken, abort);
        wire.WriteStart(output, completion);
        await output.FlushAsync(abort);

        if (completion.ToolCall is not null)
        {
            await timing.DelayAsync(timing.StallMid, abort);
            wire.WriteToolCall(output, completion);
            await output.FlushAsync(abort);
        }
        for (var i = 0; i < completion.Tokens.Count; i++)
        {
            if (i > 0)
            {
                await timing.DelayAsync(timing.Interval, abort);
            }
            if (i == completion.Tokens.Count / 2)
            {
                if (timing.ResetMid)
                {
                    await ResetAsync(context, timing);
                    return;
                }
                await timing.DelayAsync(timing.StallMid, abort);
            }
            wire.WriteToken(output, completion, i);
            await output.FlushAsync(abort);
        }

        wire.WriteEnd(output, completion);
        await output.FlushAsync(abort);
    }

    /// <summary>
    /// Drops the connection mid-answer. It waits a moment first, as a provider that dies mid-answer
    /// has usually delivered what it sent: an immediate reset lets the client's kernel discard it.
    /// </summary>
    private static async Task ResetAsync(HttpContext context, Timing timing)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(100), timing.Clock, context.RequestAborted);
        context.Abort();
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadBodyAsync(
        System.IO.Pipelines.PipeReader reader, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            foreach (var segment in result.Buffer)
            {
                yield return segment;
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                yield break;
            }
        }
    }
}
