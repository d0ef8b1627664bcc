using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// Sits between the agent's tool loop and the pool: every model step passes the run's safeguards
/// before it is sent (<see cref="RunContext.BeginStepAsync"/>) and is settled, recorded and announced
/// when it ends, however it ends. Steps stream, so a streamed run's text deltas reach the client as the
/// model writes them.
/// </summary>
internal sealed class MeteredStepClient(IChatClient pool, RunContext run) : DelegatingChatClient(pool)
{
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var step = await run.BeginStepAsync(messages, options, cancellationToken);
        var text = new StringBuilder();
        var toolCalls = new List<AgentToolCall>();
        UsageDetails? usage = null;
        Exception? failure = null;
        // The step's span was started inside BeginStepAsync, whose change of the current activity ended with it:
        // made current here, the call to the pool (sent at the first MoveNextAsync below) is its child.
        Activity.Current = step.Activity ?? Activity.Current;
        var updates = base.GetStreamingResponseAsync(messages, step.Options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (Exception exception)
                {
                    failure = exception;
                    throw;
                }
                var update = updates.Current;
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case TextContent { Text.Length: > 0 } delta:
                            text.Append(delta.Text);
                            await run.EmitAsync(AgentRunEvent.TextDelta, new TextDelta(step.Number, delta.Text));
                            break;
                        case FunctionCallContent call:
                            toolCalls.Add(new AgentToolCall(call.CallId, call.Name, JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions)));
                            break;
                        case UsageContent reported:
                            usage = reported.Details;
                            break;
                    }
                }
                yield return update;
            }
        }
        finally
        {
            await updates.DisposeAsync();
            await run.EndStepAsync(step, text.ToString(), toolCalls, usage, failure, aborted: cancellationToken.IsCancellationRequested);
        }
    }
}
